"""Compact signed tokens and their offline check: no database, no network, only a key set.

A token reads ``CL1.<payload>.<signature>``: the base64url (unpadded) canonical JSON of the
certificate, and the base64url Ed25519 signature of exactly those payload bytes by the key the
payload names (``kid``). The payload names its deployment (``dep``): a key set refuses tokens
of another deployment even where keys were shared by mistake.

:func:`check_token` answers one of four verdicts, each with a reason a person can read and a
short machine code: ``valid``; ``forged`` (malformed, not canonical, unknown key, bad
signature, another deployment, a key used after its retirement); ``revoked`` (only when a
revocation list or the online register says so); ``expired``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from carbonledger.errors import TrustError
from trust._canonical import NotCanonicalError, b64url, canonical, parse_canonical, unb64url
from trust.keys import KeyRing, PublicKeys

PREFIX = "CL1"
CERTIFICATE_TYPE = "carbonledger-certificate/1"
REVOCATIONS_TYPE = "carbonledger-revocations/1"


class Verdict(StrEnum):
    VALID = "valid"
    EXPIRED = "expired"
    REVOKED = "revoked"
    FORGED = "forged"


@dataclass(frozen=True)
class Check:
    """The answer about one token: verdict, why, and the certificate when it could be read."""

    verdict: Verdict
    code: str
    reason: str
    certificate: dict[str, Any] | None = field(default=None)

    def as_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict.value,
            "code": self.code,
            "reason": self.reason,
            "certificate": self.certificate,
        }


def utc_text(moment: datetime) -> str:
    """``2026-12-04T05:00:00Z``: the one spelling of a time in a payload (seconds, UTC)."""
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def seal(payload: dict[str, Any], ring: KeyRing) -> str:
    """Sign ``payload`` (its ``kid`` and ``dep`` set here) into a token."""
    body = {**payload, "kid": ring.active, "dep": ring.public.deployment}
    data = canonical(body)
    _, signature = ring.sign(data)
    return f"{PREFIX}.{b64url(data)}.{b64url(signature)}"


def open_token(token: str) -> tuple[bytes, bytes, dict[str, Any]]:
    """(payload bytes, signature, payload) of a well-formed token; ValueError says why not."""
    parts = token.strip().split(".")
    if len(parts) != 3 or parts[0] != PREFIX:
        raise ValueError(f"not a {PREFIX} token (expected {PREFIX}.<payload>.<signature>)")
    data, signature = unb64url(parts[1]), unb64url(parts[2])
    payload = parse_canonical(data)
    if not isinstance(payload, dict):
        raise ValueError("the payload is not an object")
    return data, signature, payload


def check_token(  # noqa: PLR0911 - one return per verdict and reason, in the order checked
    token: str,
    keys: PublicKeys,
    *,
    now: datetime | None = None,
    revoked: Mapping[str, str] | None = None,
) -> Check:
    """Verify ``token`` against ``keys``; ``revoked`` maps revoked certificate ids to reasons
    (from a revocation list or the register; None: revocation is not known here)."""
    now = now or datetime.now(UTC)
    try:
        data, signature, payload = open_token(token)
        kid, dep, cert_id = str(payload["kid"]), str(payload["dep"]), str(payload["id"])
        issued = datetime.fromisoformat(payload["iat"])
        expires = datetime.fromisoformat(payload["exp"])
        if issued.tzinfo is None or expires.tzinfo is None:
            raise ValueError("iat and exp must be UTC times (…Z)")
        if payload.get("typ") != CERTIFICATE_TYPE:
            raise ValueError(f"type {payload.get('typ')!r} is not {CERTIFICATE_TYPE}")
    except NotCanonicalError as exc:
        return Check(Verdict.FORGED, "not_canonical", f"the payload was altered: {exc}")
    except (ValueError, KeyError, TypeError) as exc:
        return Check(Verdict.FORGED, "malformed", f"not a certificate token: {exc}")
    if dep != keys.deployment:
        return Check(
            Verdict.FORGED,
            "other_deployment",
            f"issued by deployment {dep}, not by {keys.deployment} whose keys these are",
        )
    key = keys.keys.get(kid)
    if key is None:
        return Check(Verdict.FORGED, "unknown_key", f"signed with key {kid}, not a published key")
    if not key.verifies(signature, data):
        return Check(
            Verdict.FORGED,
            "bad_signature",
            f"the signature does not match the content for key {kid}: altered or forged",
        )
    if key.retired_at is not None and issued > key.retired_at:
        return Check(
            Verdict.FORGED,
            "retired_key",
            f"signed on {utc_text(issued)} with key {kid}, retired on {utc_text(key.retired_at)}",
            payload,
        )
    if revoked is not None and cert_id in revoked:
        return Check(Verdict.REVOKED, "revoked", f"revoked: {revoked[cert_id]}", payload)
    if now >= expires:
        return Check(Verdict.EXPIRED, "expired", f"expired on {utc_text(expires)}", payload)
    unknown = "" if revoked is not None else " (revocation not checked: no revocation list)"
    return Check(
        Verdict.VALID,
        "valid",
        f"signed by {dep} with key {kid}, valid until {utc_text(expires)}{unknown}",
        payload,
    )


def seal_revocations(entries: Mapping[str, str], ring: KeyRing, now: datetime) -> dict[str, Any]:
    """A signed revocation list: ``{"list": {...}, "signature": ...}`` (certificate id -> why)."""
    body = {
        "typ": REVOCATIONS_TYPE,
        "dep": ring.public.deployment,
        "kid": ring.active,
        "generated_at": utc_text(now),
        "revoked": dict(entries),
    }
    _, signature = ring.sign(canonical(body))
    return {"list": body, "signature": b64url(signature)}


def read_revocations(path: Path, keys: PublicKeys) -> dict[str, str]:
    """The revocations of a signed list file, checked against ``keys``; TrustError if not."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        body, signature = document["list"], unb64url(document["signature"])
        key = keys.keys[body["kid"]]
        ok = body["typ"] == REVOCATIONS_TYPE and body["dep"] == keys.deployment
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise TrustError(f"{path} is not a revocation list of these keys: {exc!r}") from exc
    if not ok or not key.verifies(signature, canonical(body)):
        raise TrustError(f"{path}: the revocation list's signature does not verify")
    return {str(k): str(v) for k, v in body["revoked"].items()}
