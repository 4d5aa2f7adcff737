"""Every database read a loan book's figures need, in bulk: the SQL side of ``finance``.

One call of :func:`read_book_inputs` reads one bank's book at one as-of date and, for the
borrowers the bank may see (a valid consent of scope ``account``), their annual accounts, grades,
verification and balance sheets, in one query per kind whatever the book's size.
:mod:`finance._attribution` then computes with no connection. Nothing is read about a borrower
without consent beyond whether the platform knows it, so no figure of it can leak.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

import psycopg


@dataclass(frozen=True, slots=True)
class Loan:
    loan_id: str
    as_of: date
    borrower: str
    product: str
    green_category: str | None
    purpose: str
    outstanding_yuan: Decimal
    committed_yuan: Decimal
    start_date: date
    maturity_date: date
    interest_rate: Decimal
    project_id: str | None


@dataclass(frozen=True, slots=True)
class AccountRow:
    """The borrower's annual account of record (closed, or the live year) as stored."""

    year: int
    version: int
    status: str  # live | closed
    scope1: Decimal
    scope2: Decimal
    coverage: Decimal
    estimated_share: Decimal
    two_high: bool | None
    verified: str | None  # the verifier's conclusion on this version, if any


@dataclass(frozen=True, slots=True)
class BalanceSheet:
    """An annual economic-data row (万元), the balance sheet at the year's end."""

    year: int
    revenue: Decimal | None
    total_assets: Decimal | None
    total_equity: Decimal | None
    total_debt: Decimal | None
    evic: Decimal | None


@dataclass(frozen=True, slots=True)
class Borrower:
    code: str
    name: str
    industry_code: str
    accounts: Mapping[int, AccountRow]  # by year
    sheets: Mapping[int, BalanceSheet]  # by year
    grades: Mapping[int, tuple[int | None, str | None]]  # year -> (huzhou grade, level)
    colours: Mapping[int, str]  # year -> quzhou colour


@dataclass(frozen=True)
class BookInputs:
    """One bank's book at ``as_of`` with what the bank may see of its borrowers."""

    bank_id: str
    as_of: date
    year: int
    loans: Sequence[Loan]
    consented: frozenset[str]
    registered: frozenset[str]
    borrowers: Mapping[str, Borrower]  # consented and registered only
    # (year, 2-digit division) -> (sum of equity + debt, sum of revenue) of the platform's
    # enterprises reporting both, for ``year`` and the year before: the revenue fallback's ratio
    sector_ratios: Mapping[tuple[int, str], tuple[Decimal, Decimal]] = field(default_factory=dict)


_LOANS = """
SELECT loan_id, as_of, trim(borrower_credit_code), product, green_category, purpose,
       outstanding_yuan, committed_yuan, start_date, maturity_date, interest_rate, project_id
FROM loans WHERE bank_id = %s AND as_of = %s ORDER BY loan_id
"""
_CONSENTED = """
SELECT trim(enterprise_code) FROM consents
WHERE bank_id = %s AND enterprise_code = ANY(%s) AND revoked_at IS NULL AND expires_at > %s
  AND 'account' = ANY(scope)
"""
_ACCOUNTS = """
SELECT trim(a.enterprise_code), extract(year FROM a.period_start)::int, a.version, a.status,
       a.tco2_scope1, a.tco2_scope2, a.coverage, a.estimated_share,
       (a.detail ->> 'two_high')::boolean,
       (SELECT s.conclusion FROM verification_statements s
        JOIN verification_assignments v ON v.id = s.assignment_id
        WHERE v.enterprise_code = a.enterprise_code
          AND v.year = extract(year FROM a.period_start)::int
          AND s.account_version = a.version AND s.withdrawn_at IS NULL
          AND s.conclusion <> 'not_verified'
        ORDER BY s.signed_at DESC LIMIT 1)
FROM account_periods a
WHERE a.enterprise_code = ANY(%s) AND a.period_kind = 'year' AND a.status <> 'superseded'
  AND a.period_start BETWEEN %s AND %s
"""
_SHEETS = """
SELECT trim(enterprise_code), extract(year FROM period_start)::int, revenue, total_assets,
       total_equity, total_debt, evic
FROM economic_data
WHERE enterprise_code = ANY(%s) AND period_kind = 'year' AND period_start BETWEEN %s AND %s
"""
_GRADES = """
SELECT trim(enterprise_code), extract(year FROM period_start)::int, model, grade, level, colour
FROM grades
WHERE enterprise_code = ANY(%s) AND period_kind = 'year' AND period_start <= %s
  AND model IN ('huzhou', 'quzhou-colour')
"""
# the revenue-based fallback: equity + debt per 万元 revenue, per GB/T 4754 division, summed
# over every enterprise of the platform that reports both (an aggregate: no one firm shows)
_SECTOR_RATIOS = """
SELECT extract(year FROM d.period_start)::int, left(e.industry_code, 2),
       sum(d.total_equity + d.total_debt), sum(d.revenue)
FROM economic_data d JOIN enterprises e ON e.code = d.enterprise_code
WHERE d.period_kind = 'year' AND d.period_start BETWEEN %s AND %s AND d.revenue > 0
  AND d.total_equity IS NOT NULL AND d.total_debt IS NOT NULL
  AND d.total_equity + d.total_debt > 0
GROUP BY 1, 2
"""


def latest_as_of(conn: psycopg.Connection, bank_id: str, until: date) -> date | None:
    """The bank's newest book date on or before ``until`` (None: no book yet)."""
    row = conn.execute(
        "SELECT max(as_of) FROM loans WHERE bank_id = %s AND as_of <= %s", (bank_id, until)
    ).fetchone()
    return None if row is None else row[0]


def book_dates(conn: psycopg.Connection, bank_id: str | None = None) -> list[date]:
    """Every as-of date a book was reported at (of one bank, or of any)."""
    rows = conn.execute(
        "SELECT DISTINCT as_of FROM loans WHERE %s::text IS NULL OR bank_id = %s ORDER BY 1",
        (bank_id, bank_id),
    ).fetchall()
    return [r[0] for r in rows]


def read_book_inputs(
    conn: psycopg.Connection,
    bank_id: str,
    as_of: date,
    *,
    year: int | None = None,
    now: datetime | None = None,
    consent_free: bool = False,
) -> BookInputs:
    """The book of ``bank_id`` at ``as_of`` and its borrowers' figures for ``year``.

    ``year`` (default: the as-of date's) is the accounting year whose accounts are attributed;
    consent is judged at ``now`` (default: the database's clock). ``consent_free`` reads every
    registered borrower: the regulator's view (:mod:`finance._city`), never a bank's.
    """
    year = as_of.year if year is None else year
    loans = [Loan(*row) for row in conn.execute(_LOANS, (bank_id, as_of))]
    codes = sorted({loan.borrower for loan in loans})
    stamp = now or conn.execute("SELECT now()").fetchone()[0]  # type: ignore[index]
    registered = frozenset(
        str(r[0]).strip()
        for r in conn.execute("SELECT code FROM enterprises WHERE code = ANY(%s)", (codes,))
    )
    consented = (
        registered
        if consent_free
        else frozenset(r[0] for r in conn.execute(_CONSENTED, (bank_id, codes, stamp)))
    )
    visible = sorted(consented & registered)
    return BookInputs(
        bank_id=bank_id,
        as_of=as_of,
        year=year,
        loans=loans,
        consented=consented,
        registered=registered,
        borrowers=read_borrowers(conn, visible, year),
        sector_ratios=read_sector_ratios(conn, year),
    )


def read_borrowers(
    conn: psycopg.Connection, codes: Sequence[str], year: int
) -> dict[str, Borrower]:
    """Accounts (``year`` and the year before), balance sheets and annual grades of ``codes``."""
    first, last = date(year - 1, 1, 1), date(year, 1, 1)
    accounts: dict[str, dict[int, AccountRow]] = defaultdict(dict)
    for code, *row in conn.execute(_ACCOUNTS, (list(codes), first, last)):
        accounts[code][row[0]] = AccountRow(*row)
    sheets: dict[str, dict[int, BalanceSheet]] = defaultdict(dict)
    for code, *row in conn.execute(_SHEETS, (list(codes), first, last)):
        sheets[code][row[0]] = BalanceSheet(*row)
    grades: dict[str, dict[int, tuple[int | None, str | None]]] = defaultdict(dict)
    colours: dict[str, dict[int, str]] = defaultdict(dict)
    for code, y, model, grade, level, colour in conn.execute(_GRADES, (list(codes), last)):
        if model == "huzhou":
            grades[code][y] = (grade, level)
        elif colour:
            colours[code][y] = colour
    out = {}
    for code, name, industry in conn.execute(
        "SELECT trim(code), name, industry_code FROM enterprises WHERE code = ANY(%s)",
        (list(codes),),
    ):
        out[code] = Borrower(
            code, name, industry, accounts[code], sheets[code], grades[code], colours[code]
        )
    return out


def read_sector_ratios(
    conn: psycopg.Connection, year: int
) -> dict[tuple[int, str], tuple[Decimal, Decimal]]:
    """Per (year, division): (sum of equity + debt, sum of revenue) of the reporting firms of
    ``year`` and the year before."""
    bounds = (date(year - 1, 1, 1), date(year, 1, 1))
    return {
        (y, division): (financing, revenue)
        for y, division, financing, revenue in conn.execute(_SECTOR_RATIOS, bounds)
    }
