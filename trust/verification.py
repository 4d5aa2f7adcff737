"""Third-party verification (第三方核查) of closed annual accounts.

The bureau registers verification bodies and assigns one to an enterprise-year; the verifier
reads the closed annual account, its derivation and the meters' data-quality events (the
ledger's own read functions), records findings (severity, the figure concerned, a note) and
concludes: ``verified``, ``verified_with_adjustments`` (the ledger's recompute runs with the
verifier's reason, so the adjusted account is a new version and the old one is kept) or
``not_verified``. The statement is stored with the account version it concerns: a later
recompute makes it ``superseded`` (derived from the account's current version, so no sweep is
needed), and withdrawing it revokes the certificates that cite it.

Every step records who did it and when (``assigned_by``, ``recorded_by``, ``signed_by``); the
API writes its access decisions to the audit log as well.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

import psycopg
from psycopg.rows import class_row

from accounts.ledger import Period, get_account, recompute
from carbonledger.config import Settings
from carbonledger.errors import TrustError
from carbonledger.tz import SHANGHAI
from trust.terms import Conclusion, Severity


class NoAssignmentError(TrustError):
    """No verifier is assigned to the enterprise-year, or the statement does not exist."""


@dataclass(frozen=True)
class Assignment:
    id: int
    verifier_id: str
    enterprise_code: str
    year: int
    assigned_at: datetime
    assigned_by: str


@dataclass(frozen=True)
class Finding:
    id: int
    assignment_id: int
    severity: str
    figure: str
    note: str
    recorded_at: datetime
    recorded_by: str


@dataclass(frozen=True)
class Statement:
    id: int
    assignment_id: int
    account_version: int
    conclusion: str
    summary: str
    signed_at: datetime
    signed_by: str
    withdrawn_at: datetime | None
    withdrawn_reason: str | None
    status: str = "active"
    """active, superseded (the account has a newer version) or withdrawn."""


def register_verifier(conn: psycopg.Connection, verifier_id: str, name: str) -> None:
    """Register (or rename) a verification body."""
    try:
        conn.execute(
            "INSERT INTO verifiers (id, name) VALUES (%s, %s)"
            " ON CONFLICT (id) DO UPDATE SET name = excluded.name",
            (verifier_id, name),
        )
    except psycopg.errors.CheckViolation as exc:
        raise TrustError(f"verifier id {verifier_id!r}: lower-case letters, digits, . _ -") from exc


def _year(year: int, now: datetime) -> Period:
    return Period.parse(str(year), now)


def assign(
    conn: psycopg.Connection,
    verifier_id: str,
    code: str,
    year: int,
    *,
    by: str,
    now: datetime,
    settings: Settings,
) -> Assignment:
    """Assign a verifier to an enterprise-year whose annual account is closed."""
    account = get_account(conn, code, _year(year, now), settings=settings.accounts, now=now)
    if account.status != "closed":
        raise TrustError(f"{code} {year} is not closed: close the year before verification")
    cur = conn.cursor(row_factory=class_row(Assignment))
    try:
        cur.execute(
            "INSERT INTO verification_assignments (verifier_id, enterprise_code, year,"
            " assigned_at, assigned_by) VALUES (%s, %s, %s, %s, %s)"
            " RETURNING id, verifier_id, trim(enterprise_code) AS enterprise_code, year,"
            " assigned_at, assigned_by",
            (verifier_id, code, year, now, by),
        )
    except psycopg.errors.ForeignKeyViolation as exc:
        raise TrustError(f"unknown verifier {verifier_id}") from exc
    except psycopg.errors.UniqueViolation as exc:
        raise TrustError(f"{code} {year} already has a verifier") from exc
    row = cur.fetchone()
    assert row is not None  # noqa: S101 - RETURNING gives the row
    return row


def get_assignment(conn: psycopg.Connection, assignment_id: int) -> Assignment:
    cur = conn.cursor(row_factory=class_row(Assignment))
    cur.execute(
        "SELECT id, verifier_id, trim(enterprise_code) AS enterprise_code, year, assigned_at,"
        " assigned_by FROM verification_assignments WHERE id = %s",
        (assignment_id,),
    )
    row = cur.fetchone()
    if row is None:
        raise NoAssignmentError(f"no verification assignment {assignment_id}")
    return row


def assignment_for(conn: psycopg.Connection, code: str, year: int) -> Assignment | None:
    cur = conn.cursor(row_factory=class_row(Assignment))
    cur.execute(
        "SELECT id, verifier_id, trim(enterprise_code) AS enterprise_code, year, assigned_at,"
        " assigned_by FROM verification_assignments WHERE enterprise_code = %s AND year = %s",
        (code, year),
    )
    return cur.fetchone()


def assignments_of(conn: psycopg.Connection, verifier_id: str) -> list[Assignment]:
    cur = conn.cursor(row_factory=class_row(Assignment))
    cur.execute(
        "SELECT id, verifier_id, trim(enterprise_code) AS enterprise_code, year, assigned_at,"
        " assigned_by FROM verification_assignments WHERE verifier_id = %s ORDER BY id",
        (verifier_id,),
    )
    return cur.fetchall()


def _mine(conn: psycopg.Connection, assignment_id: int, verifier_id: str) -> Assignment:
    found = get_assignment(conn, assignment_id)
    if found.verifier_id != verifier_id:
        raise TrustError(f"assignment {assignment_id} is not {verifier_id}'s")
    return found


def record_finding(
    conn: psycopg.Connection,
    assignment_id: int,
    verifier_id: str,
    *,
    severity: Severity,
    figure: str,
    note: str,
    by: str,
    now: datetime,
) -> Finding:
    """A finding of the assigned verifier: how serious, on which figure, what."""
    _mine(conn, assignment_id, verifier_id)
    if not figure.strip() or not note.strip():
        raise TrustError("a finding names the figure concerned and says what was found")
    cur = conn.cursor(row_factory=class_row(Finding))
    cur.execute(
        "INSERT INTO verification_findings (assignment_id, severity, figure, note, recorded_at,"
        " recorded_by) VALUES (%s, %s, %s, %s, %s, %s) RETURNING *",
        (assignment_id, severity.value, figure, note, now, by),
    )
    row = cur.fetchone()
    assert row is not None  # noqa: S101 - RETURNING gives the row
    return row


def findings(conn: psycopg.Connection, assignment_id: int) -> list[Finding]:
    cur = conn.cursor(row_factory=class_row(Finding))
    cur.execute(
        "SELECT * FROM verification_findings WHERE assignment_id = %s ORDER BY id",
        (assignment_id,),
    )
    return cur.fetchall()


def conclude(
    conn: psycopg.Connection,
    assignment_id: int,
    verifier_id: str,
    conclusion: Conclusion,
    summary: str,
    *,
    by: str,
    now: datetime,
    settings: Settings,
    adjustment: str | None = None,
) -> Statement:
    """Sign off: the statement concerns the account's current version, after the adjustment's
    recompute when the conclusion is ``verified_with_adjustments`` (which needs ``adjustment``,
    the reason recorded with the new version)."""
    found = _mine(conn, assignment_id, verifier_id)
    if not summary.strip():
        raise TrustError("a statement needs a summary")
    adjusting = conclusion is Conclusion.VERIFIED_WITH_ADJUSTMENTS
    if adjusting != bool(adjustment and adjustment.strip()):
        raise TrustError("an adjustment reason goes with, and only with, verified_with_adjustments")
    period = _year(found.year, now)
    code = found.enterprise_code
    with conn.transaction():
        if adjusting:
            reason = f"verification {assignment_id} by {verifier_id}: {adjustment}"
            recompute(conn, period, reason, settings.accounts, [code], now=now)
        account = get_account(conn, code, period, settings=settings.accounts, now=now)
        if account.status != "closed":
            raise TrustError(f"{code} {found.year} is not closed: nothing to conclude on")
        cur = conn.cursor(row_factory=class_row(Statement))
        cur.execute(
            "INSERT INTO verification_statements (assignment_id, account_version, conclusion,"
            " summary, signed_at, signed_by) VALUES (%s, %s, %s, %s, %s, %s) RETURNING *",
            (assignment_id, account.version, conclusion.value, summary, now, by),
        )
        row = cur.fetchone()
    assert row is not None  # noqa: S101 - RETURNING gives the row
    return row


def withdraw(
    conn: psycopg.Connection, statement_id: int, verifier_id: str, reason: str, *, now: datetime
) -> int:
    """Withdraw a statement and revoke the certificates that cite it; how many were revoked."""
    if not reason.strip():
        raise TrustError("a withdrawal needs a reason")
    with conn.transaction():
        row = conn.execute(
            "SELECT a.verifier_id FROM verification_statements s JOIN verification_assignments a"
            " ON a.id = s.assignment_id WHERE s.id = %s AND s.withdrawn_at IS NULL",
            (statement_id,),
        ).fetchone()
        if row is None or row[0] != verifier_id:
            raise NoAssignmentError(f"{verifier_id} has no standing statement {statement_id}")
        conn.execute(
            "UPDATE verification_statements SET withdrawn_at = %s, withdrawn_reason = %s"
            " WHERE id = %s",
            (now, reason, statement_id),
        )
        cur = conn.execute(
            "INSERT INTO certificate_revocations (certificate_id, revoked_at, cause, reason)"
            " SELECT id, %s, 'verification_withdrawn', %s FROM certificates"
            " WHERE (payload->>'statement')::bigint = %s ON CONFLICT (certificate_id) DO NOTHING",
            (now, f"verification statement {statement_id} was withdrawn: {reason}", statement_id),
        )
    return cur.rowcount


def statements(
    conn: psycopg.Connection, code: str, year: int, *, settings: Settings, now: datetime
) -> list[Statement]:
    """The statements on an enterprise-year, oldest first, each with its status now."""
    cur = conn.cursor(row_factory=class_row(Statement))
    cur.execute(
        "SELECT s.* FROM verification_statements s JOIN verification_assignments a"
        " ON a.id = s.assignment_id WHERE a.enterprise_code = %s AND a.year = %s ORDER BY s.id",
        (code, year),
    )
    rows = cur.fetchall()
    if not rows:
        return []
    current = get_account(conn, code, _year(year, now), settings=settings.accounts, now=now)
    return [replace(s, status=_status(s, current.version)) for s in rows]


def _status(statement: Statement, current_version: int) -> str:
    if statement.withdrawn_at is not None:
        return "withdrawn"
    return "superseded" if statement.account_version != current_version else "active"


@dataclass(frozen=True)
class QualityEvent:
    """A meter's data-quality event (analytics' ``quality_events``), as evidence."""

    meter_id: str
    quantity: str
    kind: str
    time: datetime
    amount: Decimal
    detail: str


def quality_events(conn: psycopg.Connection, code: str, year: int) -> list[QualityEvent]:
    """The data-quality events of the enterprise's meters in the year (Asia/Shanghai)."""
    lo, hi = datetime(year, 1, 1, tzinfo=SHANGHAI), datetime(year + 1, 1, 1, tzinfo=SHANGHAI)
    cur = conn.cursor(row_factory=class_row(QualityEvent))
    cur.execute(
        "SELECT meter_id, quantity, kind, time, amount, detail FROM quality_events"
        " WHERE enterprise_code = %s AND time >= %s AND time < %s ORDER BY time, meter_id",
        (code, lo, hi),
    )
    return cur.fetchall()


def statement_for(
    conn: psycopg.Connection, code: str, year: int, account_version: int
) -> tuple[str, int] | None:
    """(conclusion, statement id) of the standing statement on this account version, if any."""
    row = conn.execute(
        "SELECT s.conclusion, s.id FROM verification_statements s JOIN verification_assignments a"
        " ON a.id = s.assignment_id WHERE a.enterprise_code = %s AND a.year = %s"
        " AND s.account_version = %s AND s.withdrawn_at IS NULL ORDER BY s.id DESC LIMIT 1",
        (code, year, account_version),
    ).fetchone()
    return None if row is None else (str(row[0]), int(row[1]))
