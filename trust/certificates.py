"""Certificates of closed accounts: issue, look up, revoke, and the online check.

A certificate vouches for one version of a *closed* month or year (the account of record):
a live period moves every few seconds, so a signed figure of it would be stale as it is
printed. Its payload (signed, see :mod:`trust.tokens`) carries the enterprise, the period, the
grade, level, colour, L, K and coverage, the verification status, the account version and the
SHA-256 of the account's figures (:func:`figures_hash`), issue and expiry times and the key id.

A certificate is revoked when its account gets a newer version (a recompute) or when the
verification statement it cites is withdrawn (:func:`trust.verification.withdraw`); each
revocation is stored with its cause and reason. :func:`revoked_reasons` also reports a
recompute not yet recorded, so the online answer is right without a sweep;
:func:`record_recomputes` stores those.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from accounts.ledger import Account, Period, get_account
from carbonledger.config import Settings
from carbonledger.errors import TrustError
from trust._canonical import canonical
from trust.keys import KeyRing, PublicKeys
from trust.tokens import CERTIFICATE_TYPE, Check, Verdict, check_token, seal, utc_text
from trust.verification import statement_for

FIGURES: set[str] = (
    {"enterprise", "period", "version", "lines", "by_carrier", "totals", "economics",
     "intensity", "quality", "cross_check", "two_high", "factor_ids"}
)  # fmt: skip
"""What :func:`figures_hash` covers: the account's content, not its status or grades."""
_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


@dataclass(frozen=True)
class Certificate:
    id: str
    token: str
    payload: dict[str, Any]


def figures_hash(account: Account) -> str:
    """SHA-256 (hex) of the canonical JSON of the account's figures (:data:`FIGURES`)."""
    return hashlib.sha256(canonical(account.model_dump(mode="json", include=FIGURES))).hexdigest()


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def certificate_payload(
    account: Account, verification: str, statement: int | None, issued: datetime, days: int
) -> dict[str, Any]:
    """The certificate's fields (before ``kid`` and ``dep``): what it shows, nothing more."""
    by_model = {g.model: g for g in account.grades}
    bands, colour = by_model.get("huzhou"), by_model.get("quzhou-colour")
    return {
        "typ": CERTIFICATE_TYPE,
        "id": "crt_" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(16)),
        "enterprise": {"code": account.enterprise.code, "name": account.enterprise.name},
        "period": {"kind": account.period.kind, "label": account.period.label},
        "grade": bands.grade if bands else None,
        "level": bands.level if bands else None,
        "colour": colour.colour if colour else None,
        "grading": [g.model_version for g in (bands, colour) if g is not None],
        "l": _text(bands.l_value) if bands else None,
        "k": _text(bands.k_value) if bands else None,
        "coverage": str(account.quality.coverage),
        "tco2": str(account.totals.total),
        "verification": verification,
        "statement": statement,
        "account_version": account.version,
        "figures_sha256": figures_hash(account),
        "iat": utc_text(issued),
        "exp": utc_text(issued + timedelta(days=days)),
    }


def issue(
    conn: psycopg.Connection,
    code: str,
    period: Period,
    ring: KeyRing,
    settings: Settings,
    *,
    now: datetime,
    days: int | None = None,
) -> Certificate:
    """Sign and store a certificate of the closed account of ``code`` for ``period``."""
    if period.kind not in ("month", "year"):
        raise TrustError("a certificate is for a closed month or year (YYYY-MM or YYYY)")
    account = get_account(conn, code, period, settings=settings.accounts, now=now)
    if account.status != "closed":
        raise TrustError(
            f"{code} {period.label} is not closed: close it first"
            f" (carbonledger accounts close --{period.kind} {period.label})"
        )
    verification, statement = "unverified", None
    if period.kind == "year":
        found = statement_for(conn, code, period.start.year, account.version)
        if found is not None:
            verification, statement = found
    payload = certificate_payload(
        account, verification, statement, now, days or settings.trust.certificate_days
    )
    token = seal(payload, ring)
    signed = {**payload, "kid": ring.active, "dep": ring.public.deployment}
    issued, expires = (datetime.fromisoformat(signed[k]) for k in ("iat", "exp"))
    conn.execute(
        "INSERT INTO certificates (id, enterprise_code, period_kind, period_start,"
        " account_version, key_id, deployment, issued_at, expires_at, token, payload)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (signed["id"], code, period.kind, period.start, account.version, ring.active,
         ring.public.deployment, issued, expires, token, Jsonb(signed)),
    )  # fmt: skip
    return Certificate(signed["id"], token, signed)


def find_token(conn: psycopg.Connection, certificate_id: str) -> str | None:
    row = conn.execute("SELECT token FROM certificates WHERE id = %s", (certificate_id,)).fetchone()
    return None if row is None else str(row[0])


def _stale(conn: psycopg.Connection, only: str | None = None) -> dict[str, str]:
    """Certificates (all, or ``only`` this one) whose account has a newer version than the one
    they vouch for and no stored revocation yet: one query over the ledger's current versions."""
    rows = conn.execute(
        "SELECT c.id, c.account_version, v.version, v.reason FROM certificates c"
        " JOIN current_account_versions v ON v.enterprise_code = c.enterprise_code"
        " AND v.period_kind = c.period_kind AND v.period_start = c.period_start"
        " LEFT JOIN certificate_revocations r ON r.certificate_id = c.id"
        " WHERE r.certificate_id IS NULL AND v.version <> c.account_version"
        " AND (%s::text IS NULL OR c.id = %s)",
        (only, only),
    ).fetchall()
    return {
        str(cert_id): f"the account was recomputed: version {old} is superseded by version"
        f" {new} ({reason})"
        for cert_id, old, new, reason in rows
    }


def revoked_reasons(conn: psycopg.Connection, only: str | None = None) -> dict[str, str]:
    """Revoked certificates (all, or ``only`` this one) with why: stored revocations and
    recomputes not yet stored."""
    rows = conn.execute(
        "SELECT certificate_id, reason FROM certificate_revocations"
        " WHERE %s::text IS NULL OR certificate_id = %s",
        (only, only),
    ).fetchall()
    return {**_stale(conn, only), **{str(r[0]): str(r[1]) for r in rows}}


def record_recomputes(conn: psycopg.Connection, now: datetime) -> int:
    """Store a revocation for each certificate whose account was recomputed since it was issued."""
    stale = _stale(conn)
    for cert_id, reason in stale.items():
        conn.execute(
            "INSERT INTO certificate_revocations (certificate_id, revoked_at, cause, reason)"
            " VALUES (%s, %s, 'recompute', %s) ON CONFLICT (certificate_id) DO NOTHING",
            (cert_id, now, reason),
        )
    return len(stale)


def check_online(conn: psycopg.Connection, token: str, keys: PublicKeys, now: datetime) -> Check:
    """The token checked against this deployment's keys and its register of revocations."""
    result = check_token(token, keys, now=now, revoked={})
    if result.verdict is Verdict.FORGED or result.certificate is None:
        return result
    cert_id = str(result.certificate["id"])
    if find_token(conn, cert_id) is None:
        return Check(Verdict.FORGED, "not_issued", f"no certificate {cert_id} was issued here")
    revoked = revoked_reasons(conn, only=cert_id)
    return check_token(token, keys, now=now, revoked=revoked)
