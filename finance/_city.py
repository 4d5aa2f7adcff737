"""City-wide totals over every bank's book, for the bureau and the regulator.

The bureau sees every enterprise's account, so its totals attribute every registered borrower
(consent is a bank's matter); each bank's newest book on or before the end of the year counts.
:func:`publish` stores the same per-loan figures in ``loan_figures``, which the climate-finance
cockpit (Grafana) reads.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import psycopg
from pydantic import BaseModel

from finance._attribution import FinancePolicy
from finance._book import compute_book
from finance._inputs import latest_as_of, read_book_inputs
from finance._model import Book, Exposure


class BankTotal(BaseModel):
    bank_id: str
    name: str
    as_of: date
    loans: int
    outstanding_yuan: Decimal
    green_outstanding_yuan: Decimal
    financed_tco2: Decimal
    two_high_outstanding_yuan: Decimal


class CityTotals(BaseModel):
    year: int
    banks: list[BankTotal]
    loans: int
    outstanding_yuan: Decimal
    green_outstanding_yuan: Decimal
    green_by_product: dict[str, Decimal]
    financed_tco2: Decimal
    two_high_outstanding_yuan: Decimal
    high_carbon_outstanding_yuan: Decimal
    by_grade: dict[str, Decimal]  # outstanding (元) by the borrowers' grade


def regulator_books(
    conn: psycopg.Connection, year: int, policy: FinancePolicy | None = None
) -> list[tuple[str, Book]]:
    """(bank name, book) of every bank with a book by the end of ``year``, consent aside."""
    out = []
    banks = conn.execute("SELECT id, name FROM banks ORDER BY id").fetchall()
    for bank_id, name in banks:
        as_of = latest_as_of(conn, bank_id, date(year, 12, 31))
        if as_of is None:
            continue
        inputs = read_book_inputs(conn, bank_id, as_of, year=year, consent_free=True)
        out.append((name, compute_book(inputs, policy)))
    return out


def city_totals(
    conn: psycopg.Connection, year: int, policy: FinancePolicy | None = None
) -> CityTotals:
    """Green loan balance by product, financed emissions and exposure by grade, all banks."""
    books = regulator_books(conn, year, policy)
    banks = [_bank_total(name, book) for name, book in books]
    green: dict[str, Decimal] = {}
    grades: dict[str, Decimal] = {}
    for _, book in books:
        _add(green, book.metrics.green)
        _add(grades, book.metrics.by_grade)
    return CityTotals(
        year=year,
        banks=banks,
        loans=sum(b.loans for b in banks),
        outstanding_yuan=sum((b.outstanding_yuan for b in banks), Decimal(0)),
        green_outstanding_yuan=sum((b.green_outstanding_yuan for b in banks), Decimal(0)),
        green_by_product=dict(sorted(green.items())),
        financed_tco2=sum((b.financed_tco2 for b in banks), Decimal(0)),
        two_high_outstanding_yuan=sum((b.two_high_outstanding_yuan for b in banks), Decimal(0)),
        high_carbon_outstanding_yuan=sum(
            (book.metrics.high_carbon_industries.outstanding_yuan for _, book in books),
            Decimal(0),
        ),
        by_grade=dict(sorted(grades.items())),
    )


def _add(into: dict[str, Decimal], exposures: list[Exposure]) -> None:
    for e in exposures:
        into[e.key] = into.get(e.key, Decimal(0)) + e.outstanding_yuan


def _bank_total(name: str, book: Book) -> BankTotal:
    m = book.metrics
    return BankTotal(
        bank_id=book.bank_id,
        name=name,
        as_of=book.as_of,
        loans=m.loans,
        outstanding_yuan=m.outstanding_yuan,
        green_outstanding_yuan=sum((e.outstanding_yuan for e in m.green), Decimal(0)),
        financed_tco2=m.financed_tco2,
        two_high_outstanding_yuan=m.two_high.outstanding_yuan,
    )


_PUBLISH = """
INSERT INTO loan_figures (bank_id, loan_id, as_of, year, borrower_credit_code, product,
    green_category, outstanding_yuan, status, financed_scope1_tco2, financed_scope2_tco2,
    financed_tco2, score, grade, level, two_high, high_carbon_industry, worsened, computed_at)
SELECT %s, w.*, %s
FROM unnest(%s::text[], %s::date[], %s::int[], %s::text[], %s::text[], %s::text[],
            %s::numeric[], %s::text[], %s::numeric[], %s::numeric[], %s::numeric[],
            %s::smallint[], %s::smallint[], %s::text[], %s::boolean[], %s::boolean[],
            %s::boolean[]) AS w
"""


def publish(
    conn: psycopg.Connection,
    year: int,
    *,
    policy: FinancePolicy | None = None,
    now: datetime | None = None,
) -> int:
    """Replace ``year``'s stored figures with every bank's book as computed now; rows written."""
    written = 0
    with conn.transaction():
        stamp = now or conn.execute("SELECT now()").fetchone()[0]  # type: ignore[index]
        conn.execute("DELETE FROM loan_figures WHERE year = %s", (year,))
        for _, book in regulator_books(conn, year, policy):
            rows = [
                (f.loan_id, book.as_of, book.year, f.borrower_credit_code, f.product,
                 f.green_category, f.outstanding_yuan, f.status.value, f.financed_scope1_tco2,
                 f.financed_scope2_tco2, f.financed_tco2, f.score, f.grade, f.level, f.two_high,
                 f.high_carbon_industry, f.worsened)
                for f in book.loans
            ]  # fmt: skip
            if rows:
                columns = [list(c) for c in zip(*rows, strict=True)]
                conn.execute(_PUBLISH, [book.bank_id, stamp, *columns])
                written += len(rows)
    return written
