"""Loan books: what a bank submits about its loans, validated once for every way it arrives.

A bank's book is one row per loan and as-of date (the book at that date). The CSV import, the
API upload and the simulator all go through :func:`validate_loans` (every fault of every row,
named by line and field) and :func:`apply_loans` (one transaction; re-sending the same rows
changes nothing, a changed row is reported with its old and new values). Money is in 元,
exact decimals; only CNY is accepted, since the platform has no exchange-rate series to turn
another currency into 元 for the attribution.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

import psycopg

from accounts.registry import Change, ImportReport
from carbonledger import uscc
from carbonledger.csvfile import Problems, read_rows
from carbonledger.errors import RegistryError
from finance._errors import UnknownBankError

COLUMNS = (
    "loan_id", "borrower_credit_code", "product", "green_category", "purpose",
    "outstanding_yuan", "committed_yuan", "currency", "start_date", "maturity_date",
    "interest_rate", "as_of", "project_id",
)  # fmt: skip
REQUIRED = (
    "loan_id", "borrower_credit_code", "product", "outstanding_yuan", "committed_yuan",
    "start_date", "maturity_date", "interest_rate", "as_of",
)  # fmt: skip
_LOAN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}")
_PROJECT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}")
_CURRENCIES = ("CNY",)
_FIELDS = (
    "borrower_credit_code", "product", "green_category", "purpose", "outstanding_yuan",
    "committed_yuan", "currency", "start_date", "maturity_date", "interest_rate", "project_id",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class LoanRecord:
    """One loan of a bank's book as reported at ``as_of``."""

    line: int
    loan_id: str
    as_of: date
    borrower_credit_code: str
    product: str
    green_category: str | None
    purpose: str
    outstanding_yuan: Decimal
    committed_yuan: Decimal
    currency: str
    start_date: date
    maturity_date: date
    interest_rate: Decimal  # percent per year
    project_id: str | None

    def stored(self) -> tuple[object, ...]:
        """The values in the order of ``_FIELDS`` (what a re-upload compares)."""
        return (
            self.borrower_credit_code, self.product, self.green_category, self.purpose,
            self.outstanding_yuan, self.committed_yuan, self.currency, self.start_date,
            self.maturity_date, self.interest_rate, self.project_id,
        )  # fmt: skip


def read_loans(
    path: Path, today: date | None = None, *, registered: Collection[str] = ()
) -> list[LoanRecord]:
    """Every row of the CSV ``path`` validated; InvalidImportError lists every bad field."""
    problems = Problems(path)
    rows = problems.readable(read_rows(path, COLUMNS, REQUIRED))
    records = validate_loans(rows, problems, today, registered=registered)
    problems.raise_if_any()
    return records


def validate_loans(
    rows: Iterable[tuple[int, Mapping[str, str]]],
    problems: Problems,
    today: date | None = None,
    *,
    registered: Collection[str] = (),
) -> list[LoanRecord]:
    """The one set of rules for loan rows, whoever submits them (file, API, simulator).

    ``rows`` are (line, {column: text}); every fault is added to ``problems`` and only valid rows
    are returned. A loan id may appear once per as-of date. Borrower codes in ``registered`` were
    found in the registry by the caller and are not checked again (as for economic data).
    """
    records: list[LoanRecord] = []
    seen: dict[tuple[str, date], int] = {}
    for line, values in rows:
        record = _record(line, values, today, problems, registered)
        if record is None:
            continue
        key = (record.loan_id, record.as_of)
        if key in seen:
            problems.add(
                line,
                "loan_id",
                f"{record.loan_id} as of {record.as_of} is also at line {seen[key]}",
            )
            continue
        seen[key] = line
        records.append(record)
    return records


def _record(
    line: int,
    values: Mapping[str, str],
    today: date | None,
    problems: Problems,
    registered: Collection[str],
) -> LoanRecord | None:
    before = problems.count
    loan_id = values.get("loan_id", "")
    if not _LOAN_ID.fullmatch(loan_id):
        problems.add(
            line, "loan_id", f"{loan_id!r} is not a loan id (letters, digits, . _ : / -, max 64)"
        )
    code = values.get("borrower_credit_code", "")
    try:
        if code not in registered:
            code = uscc.parse(code)
    except RegistryError as exc:
        problems.add(line, "borrower_credit_code", str(exc) if code else "missing (required)")
    product = values.get("product", "")
    if not product:
        problems.add(line, "product", "missing (required), e.g. 碳效贷")
    outstanding = _money(line, "outstanding_yuan", values, problems)
    committed = _money(line, "committed_yuan", values, problems)
    if outstanding is not None and committed is not None and outstanding > committed:
        problems.add(
            line, "outstanding_yuan", f"{outstanding} exceeds the committed amount {committed}"
        )
    currency = values.get("currency") or "CNY"
    if currency not in _CURRENCIES:
        problems.add(line, "currency", f"{currency!r}: only CNY (amounts in 元) is accepted")
    start = _date(line, "start_date", values, problems)
    maturity = _date(line, "maturity_date", values, problems)
    as_of = _date(line, "as_of", values, problems)
    if start and maturity and maturity < start:
        problems.add(line, "maturity_date", f"{maturity} is before the start date {start}")
    if start and as_of and start > as_of:
        problems.add(line, "start_date", f"{start} is after the as-of date {as_of}")
    if as_of and today and as_of > today:
        problems.add(line, "as_of", f"{as_of} is in the future")
    rate = _rate(line, values.get("interest_rate", ""), problems)
    project = values.get("project_id") or None
    if project is not None and not _PROJECT_ID.fullmatch(project):
        problems.add(line, "project_id", f"{project!r} is not a project id")
    if problems.count > before:
        return None
    assert outstanding is not None and committed is not None and rate is not None  # noqa: S101
    assert start is not None and maturity is not None and as_of is not None  # noqa: S101
    return LoanRecord(
        line, loan_id, as_of, code, product, values.get("green_category") or None,
        values.get("purpose", ""), outstanding, committed, currency, start, maturity, rate,
        project,
    )  # fmt: skip


def _money(line: int, name: str, values: Mapping[str, str], problems: Problems) -> Decimal | None:
    text = values.get(name, "")
    if not text:
        problems.add(line, name, "missing (required), in 元")
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        problems.add(line, name, f"{text!r} is not a number (元, write e.g. 1500000.00)")
        return None
    if not value.is_finite() or value < 0:
        problems.add(line, name, f"{text} is not a non-negative amount in 元")
        return None
    if value != value.quantize(Decimal("0.01")):
        problems.add(line, name, f"{text}: more than two decimals (元 are counted to the fen)")
        return None
    return value


def _rate(line: int, text: str, problems: Problems) -> Decimal | None:
    try:
        value = Decimal(text)
    except InvalidOperation:
        problems.add(line, "interest_rate", f"{text!r} is not a number (percent a year, e.g. 3.45)")
        return None
    if not value.is_finite() or not 0 <= value <= 100:
        problems.add(line, "interest_rate", f"{text} is not a percentage between 0 and 100")
        return None
    return value


def _date(line: int, name: str, values: Mapping[str, str], problems: Problems) -> date | None:
    text = values.get(name, "")
    try:
        value = date.fromisoformat(text)
    except ValueError:
        problems.add(line, name, f"{text!r} is not a date (write 2026-10-31)" if text else
                     "missing (required), e.g. 2026-10-31")  # fmt: skip
        return None
    if not 2000 <= value.year <= 2100:
        problems.add(line, name, f"{text}: year outside 2000-2100")
        return None
    return value


_STORED = """
SELECT loan_id, as_of, borrower_credit_code, product, green_category, purpose, outstanding_yuan,
       committed_yuan, currency, start_date, maturity_date, interest_rate, project_id
FROM loans WHERE bank_id = %s AND as_of = ANY(%s) FOR UPDATE
"""
_UPSERT_ALL = """
INSERT INTO loans (bank_id, loan_id, as_of, borrower_credit_code, product, green_category,
                   purpose, outstanding_yuan, committed_yuan, currency, start_date,
                   maturity_date, interest_rate, project_id, source, uploaded_at)
SELECT %s, w.*, now()
FROM unnest(%s::text[], %s::date[], %s::text[], %s::text[], %s::text[], %s::text[],
            %s::numeric[], %s::numeric[], %s::text[], %s::date[], %s::date[], %s::numeric[],
            %s::text[], %s::text[]) AS w
ON CONFLICT (bank_id, loan_id, as_of) DO UPDATE SET
    borrower_credit_code = EXCLUDED.borrower_credit_code, product = EXCLUDED.product,
    green_category = EXCLUDED.green_category, purpose = EXCLUDED.purpose,
    outstanding_yuan = EXCLUDED.outstanding_yuan, committed_yuan = EXCLUDED.committed_yuan,
    currency = EXCLUDED.currency, start_date = EXCLUDED.start_date,
    maturity_date = EXCLUDED.maturity_date, interest_rate = EXCLUDED.interest_rate,
    project_id = EXCLUDED.project_id, source = EXCLUDED.source, uploaded_at = now()
"""


def apply_loans(
    conn: psycopg.Connection,
    bank_id: str,
    records: Sequence[LoanRecord],
    *,
    path: str = "(upload)",
    source: str = "import",
    dry_run: bool = False,
) -> ImportReport:
    """Write the records of one bank in one transaction; re-sending them changes nothing."""
    with conn.transaction(force_rollback=dry_run):
        if conn.execute("SELECT 1 FROM banks WHERE id = %s", (bank_id,)).fetchone() is None:
            raise UnknownBankError(f"no bank {bank_id!r} is registered")
        dates = sorted({r.as_of for r in records})
        stored = {
            (row[0], row[1]): tuple(str(v).strip() if isinstance(v, str) else v for v in row[2:])
            for row in conn.execute(_STORED, (bank_id, dates))
        }
        changes: list[Change] = []
        writes: list[tuple[object, ...]] = []
        for r in records:
            key = f"{bank_id}/{r.loan_id} as of {r.as_of}"
            new, old = r.stored(), stored.get((r.loan_id, r.as_of))
            if old is None:
                changes.append(Change("loan", key, "added"))
            else:
                diffs = tuple(
                    (name, o, n) for name, o, n in zip(_FIELDS, old, new, strict=True) if o != n
                )
                if not diffs:
                    changes.append(Change("loan", key, "unchanged"))
                    continue
                changes.append(Change("loan", key, "updated", diffs))
            writes.append((r.loan_id, r.as_of, *new, source))
        if writes:
            columns = [list(column) for column in zip(*writes, strict=True)]
            conn.execute(_UPSERT_ALL, [bank_id, *columns])
    return ImportReport(path, tuple(changes), dry_run)


def import_loans(
    conn: psycopg.Connection,
    bank_id: str,
    path: Path,
    *,
    dry_run: bool = False,
    today: date | None = None,
) -> ImportReport:
    """Read, validate and apply the loan-book CSV ``path`` of ``bank_id`` in one transaction."""
    registered = [str(c).strip() for (c,) in conn.execute("SELECT code FROM enterprises")]
    records = read_loans(path, today, registered=frozenset(registered))
    return apply_loans(conn, bank_id, records, path=str(path), dry_run=dry_run)
