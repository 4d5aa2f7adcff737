"""Certificates of real closed accounts, revoked by a recompute and by a withdrawn
verification; the verifier's whole workflow against PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from accounts.ledger import Period, get_account, recompute
from carbonledger.config import Settings
from carbonledger.errors import TrustError
from tests.trust.helpers import CODE, NOW, change_value_added, closed_year, ring
from trust import verification
from trust.certificates import (
    check_online,
    figures_hash,
    issue,
    record_recomputes,
    revoked_reasons,
)
from trust.keys import KeyRing
from trust.terms import Conclusion, Severity
from trust.tokens import Verdict, check_token


@pytest.fixture
def conn(db_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(db_url, autocommit=True) as c:
        yield c


@pytest.fixture
def keys(tmp_path: Path) -> KeyRing:
    return ring(tmp_path / "keys")


def _assign(
    conn: psycopg.Connection, settings: Settings, year: int = 2025
) -> verification.Assignment:
    return verification.assign(
        conn, "zj-verify", CODE, year, by="bureau", now=NOW, settings=settings
    )


def test_a_closed_year_is_certified_with_its_figures(
    conn: psycopg.Connection, keys: KeyRing, settings: Settings
) -> None:
    year = closed_year(conn)
    cert = issue(conn, CODE, year, keys, settings, now=NOW)
    account = get_account(conn, CODE, year, now=NOW)
    p = cert.payload
    assert p["enterprise"] == {"code": CODE, "name": account.enterprise.name}
    assert p["period"] == {"kind": "year", "label": "2025"}
    assert p["tco2"] == str(account.totals.total) and p["coverage"] == str(account.quality.coverage)
    huzhou = next(g for g in account.grades if g.model == "huzhou")
    assert (p["grade"], p["level"], p["l"]) == (huzhou.grade, huzhou.level, str(huzhou.l_value))
    assert p["account_version"] == 1 and p["figures_sha256"] == figures_hash(account)
    assert p["verification"] == "unverified" and p["kid"] == keys.active
    assert check_online(conn, cert.token, keys.public, NOW).verdict is Verdict.VALID
    with pytest.raises(TrustError, match="not closed"):
        issue(conn, CODE, Period.parse("2026-01", NOW), keys, settings, now=NOW)
    with pytest.raises(TrustError, match="closed month or year"):
        issue(conn, CODE, Period.parse("mtd", NOW), keys, settings, now=NOW)


def test_a_recompute_revokes_the_certificate_of_the_old_version(
    conn: psycopg.Connection, keys: KeyRing, settings: Settings
) -> None:
    year = closed_year(conn)
    cert = issue(conn, CODE, year, keys, settings, now=NOW)
    later = NOW + timedelta(days=3)
    change_value_added(conn, "80")
    recompute(conn, year, "value added corrected", codes=[CODE], now=later)
    result = check_online(conn, cert.token, keys.public, later)
    assert result.verdict is Verdict.REVOKED
    assert "version 1 is superseded by version 2 (value added corrected)" in result.reason
    assert record_recomputes(conn, later) == 1
    cause = conn.execute(
        "SELECT cause FROM certificate_revocations WHERE certificate_id = %s", (cert.id,)
    ).fetchone()
    assert cause == ("recompute",)
    assert set(revoked_reasons(conn)) == {cert.id}
    # offline, without a revocation list, only the signature and dates can be known
    assert check_token(cert.token, keys.public, now=later).verdict is Verdict.VALID
    fresh = issue(conn, CODE, year, keys, settings, now=later)
    assert fresh.payload["account_version"] == 2
    assert check_online(conn, fresh.token, keys.public, later).verdict is Verdict.VALID


def test_a_token_signed_here_but_never_issued_is_refused(
    conn: psycopg.Connection, keys: KeyRing, settings: Settings
) -> None:
    from tests.trust.helpers import payload  # noqa: PLC0415
    from trust.tokens import seal  # noqa: PLC0415

    result = check_online(conn, seal(payload(), keys), keys.public, NOW)
    assert (result.verdict, result.code) == (Verdict.FORGED, "not_issued")


def test_the_verifier_workflow(conn: psycopg.Connection, keys: KeyRing, settings: Settings) -> None:
    year = closed_year(conn)
    verification.register_verifier(conn, "zj-verify", "浙江核查中心")
    with pytest.raises(TrustError, match="not closed"):
        _assign(conn, settings, 2026)
    job = _assign(conn, settings)
    with pytest.raises(TrustError, match="already has a verifier"):
        _assign(conn, settings)
    verification.register_verifier(conn, "other-body", "Another body")
    with pytest.raises(TrustError, match="not other-body's"):
        verification.record_finding(
            conn, job.id, "other-body", severity=Severity.MINOR, figure="x", note="y",
            by="someone", now=NOW,
        )  # fmt: skip
    finding = verification.record_finding(
        conn, job.id, "zj-verify", severity=Severity.MAJOR, figure="economics.value_added",
        note="the statistics bureau's figure is 80, not 100", by="auditor wang", now=NOW,
    )  # fmt: skip
    assert [f.id for f in verification.findings(conn, job.id)] == [finding.id]
    # the adjustment: the corrected value added, then the ledger's recompute with the reason
    change_value_added(conn, "80")
    signed_at = NOW + timedelta(days=1)
    with pytest.raises(TrustError, match="adjustment reason"):
        verification.conclude(
            conn, job.id, "zj-verify", Conclusion.VERIFIED_WITH_ADJUSTMENTS, "ok",
            by="auditor wang", now=signed_at, settings=settings,
        )  # fmt: skip
    statement = verification.conclude(
        conn, job.id, "zj-verify", Conclusion.VERIFIED_WITH_ADJUSTMENTS,
        "activity data agree with the meters; value added corrected", by="auditor wang",
        now=signed_at, settings=settings, adjustment="value added 100 -> 80 (finding 1)",
    )  # fmt: skip
    account = get_account(conn, CODE, year, now=signed_at)
    assert (statement.account_version, account.version) == (2, 2)
    assert account.reason == "verification 1 by zj-verify: value added 100 -> 80 (finding 1)"
    assert account.economics.value_added.value == 80
    cert = issue(conn, CODE, year, keys, settings, now=signed_at)
    assert (cert.payload["verification"], cert.payload["statement"]) == (
        "verified_with_adjustments",
        statement.id,
    )
    [shown] = verification.statements(conn, CODE, 2025, settings=settings, now=signed_at)
    assert shown.status == "active"
    # a later recompute supersedes the statement and revokes the certificate
    later = signed_at + timedelta(days=30)
    change_value_added(conn, "90")
    recompute(conn, year, "value added revised again", codes=[CODE], now=later)
    [shown] = verification.statements(conn, CODE, 2025, settings=settings, now=later)
    assert (shown.status, shown.account_version) == ("superseded", 2)
    assert check_online(conn, cert.token, keys.public, later).verdict is Verdict.REVOKED
    # a new certificate of version 3 carries no verification: the statement was on version 2
    assert issue(conn, CODE, year, keys, settings, now=later).payload["verification"] == (
        "unverified"
    )


def test_a_withdrawn_verification_revokes_its_certificates(
    conn: psycopg.Connection, keys: KeyRing, settings: Settings
) -> None:
    year = closed_year(conn)
    verification.register_verifier(conn, "zj-verify", "浙江核查中心")
    job = _assign(conn, settings)
    statement = verification.conclude(
        conn, job.id, "zj-verify", Conclusion.VERIFIED, "all figures agree", by="auditor li",
        now=NOW, settings=settings,
    )  # fmt: skip
    cert = issue(conn, CODE, year, keys, settings, now=NOW)
    assert cert.payload["verification"] == "verified"
    later = NOW + timedelta(days=10)
    with pytest.raises(TrustError, match="no standing statement"):
        verification.withdraw(conn, statement.id, "other", "nope", now=later)
    assert verification.withdraw(conn, statement.id, "zj-verify", "invoices forged", now=later) == 1
    result = check_online(conn, cert.token, keys.public, later)
    assert result.verdict is Verdict.REVOKED
    assert f"verification statement {statement.id} was withdrawn: invoices forged" in result.reason
    [shown] = verification.statements(conn, CODE, 2025, settings=settings, now=later)
    assert shown.status == "withdrawn"
    assert issue(conn, CODE, year, keys, settings, now=later).payload["verification"] == (
        "unverified"
    )
