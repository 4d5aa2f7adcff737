"""A bank's book: every loan's figure and the portfolio metrics, summed exactly.

Metrics (docs/finance.md, TCFD/PCAF): absolute financed emissions; economic emission intensity
(tCO2 per million 元 outstanding, over the loans with a figure); WACI (the outstanding-weighted
mean of the borrowers' tCO2 per million 元 revenue); the outstanding-weighted data-quality
score; exposure (outstanding and its share of the book) by grade, level, colour, to 两高 and to
high-carbon industries; green loans by product; and the watchlist of loans whose borrower's
grade worsened since origination (信贷资金退出机制).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from fractions import Fraction

import psycopg

from finance._attribution import Computed, FinancePolicy, compute_loan
from finance._errors import NoBookError
from finance._inputs import BookInputs, book_dates, latest_as_of, read_book_inputs
from finance._model import Book, Exposure, LoanFigure, LoanStatus, Metrics, Trend
from finance._numbers import SCALE, dec, exact_dec

METHOD = (
    "PCAF Global GHG Accounting and Reporting Standard Part A, business loans: attribution"
    " factor = outstanding / EVIC (listed) or / (total equity + total debt), capped at 1;"
    " fallbacks total assets (score >= 3) and revenue x the division's (equity + debt) / revenue"
    " (score >= 4); emissions = the borrower's scope 1 and scope 2 of its annual carbon account"
    " of record on this platform (closed, or the live year to date); data-quality score 1"
    " verified, 2 metered with coverage at the threshold, 3 below it. Each loan's figure is"
    " computed exactly (rationals) and rounded once; the book sums each loan's figure rounded"
    " to 10^-18 tCO2 as integers (order-independent), shown to 12 decimals."
)


def compute_book(inputs: BookInputs, policy: FinancePolicy | None = None) -> Book:
    """Every loan's figure and the book's metrics, with no connection."""
    policy = policy or FinancePolicy()
    computed = [compute_loan(loan, inputs, policy) for loan in inputs.loans]
    return Book(
        bank_id=inputs.bank_id,
        as_of=inputs.as_of,
        year=inputs.year,
        loans=[c.figure for c in computed],
        metrics=metrics(computed),
        watchlist=[c.figure.loan_id for c in computed if c.figure.worsened],
        method=METHOD,
    )


def financed_book(
    conn: psycopg.Connection,
    bank_id: str,
    *,
    year: int | None = None,
    as_of: date | None = None,
    policy: FinancePolicy | None = None,
    now: datetime | None = None,
) -> Book:
    """The bank's book at ``as_of`` (default: its newest on or before the end of ``year``).

    Raises NoBookError when the bank has reported no book by then.
    """
    if as_of is None:
        until = date(year, 12, 31) if year is not None else date(2100, 12, 31)
        as_of = latest_as_of(conn, bank_id, until)
        if as_of is None:
            raise NoBookError(f"bank {bank_id} has reported no loan book on or before {until}")
    inputs = read_book_inputs(conn, bank_id, as_of, year=year, now=now)
    if not inputs.loans:
        raise NoBookError(f"bank {bank_id} has no loans as of {as_of}")
    return compute_book(inputs, policy)


def trend(
    conn: psycopg.Connection,
    bank_id: str,
    *,
    policy: FinancePolicy | None = None,
    now: datetime | None = None,
) -> list[Trend]:
    """The book at the newest as-of date of each month, oldest first, with the change."""
    newest: dict[tuple[int, int], date] = {}
    for day in book_dates(conn, bank_id):
        newest[(day.year, day.month)] = day
    out: list[Trend] = []
    previous: Fraction | None = None
    for as_of in sorted(newest.values()):
        book = financed_book(conn, bank_id, as_of=as_of, policy=policy, now=now)
        m = book.metrics
        total = Fraction(m.exact)
        out.append(
            Trend(
                as_of=as_of,
                outstanding_yuan=m.outstanding_yuan,
                financed_tco2=m.financed_tco2,
                intensity_tco2_per_million_yuan=m.intensity_tco2_per_million_yuan,
                two_high_share=m.two_high.share,
                grade_45_share=sum(
                    (e.share for e in m.by_grade if e.key in ("4", "5")), exact_dec(0)
                ),
                change_financed_tco2=None if previous is None else dec(total - previous),
            )
        )
        previous = total
    return out


def metrics(computed: Sequence[Computed]) -> Metrics:
    """The portfolio metrics of a book's loans: integer sums (fen, 10⁻¹⁸ tCO2), rounded once."""
    total = sum(c.outstanding_fen for c in computed)
    covered = [c for c in computed if c.figure.status is LoanStatus.COMPUTED]
    covered_fen = sum(c.outstanding_fen for c in covered)
    s1 = sum(c.scope1 for c in covered)
    s2 = sum(c.scope2 for c in covered)
    tco2 = Fraction(s1 + s2, SCALE)
    with_revenue = [c for c in covered if c.weighted_intensity is not None]
    revenue_fen = sum(c.outstanding_fen for c in with_revenue)
    waci = (
        Fraction(sum(c.weighted_intensity or 0 for c in with_revenue), SCALE * revenue_fen)
        if revenue_fen
        else None
    )
    score = (
        Fraction(sum(c.outstanding_fen * (c.figure.score or 0) for c in covered), covered_fen)
        if covered_fen
        else None
    )

    def group(key: Callable[[LoanFigure], str | None]) -> list[Exposure]:
        return _exposures(computed, key, total)

    def visible(value: str) -> Callable[[LoanFigure], str]:
        def key(f: LoanFigure) -> str:
            if f.status in (LoanStatus.NO_CONSENT, LoanStatus.NOT_ON_PLATFORM):
                return f.status.value
            shown = getattr(f, value)
            return "not graded" if shown is None else str(shown)

        return key

    return Metrics(
        loans=len(computed),
        outstanding_yuan=exact_dec(Fraction(total, 100)),
        covered_outstanding_yuan=exact_dec(Fraction(covered_fen, 100)),
        coverage=exact_dec(Fraction(covered_fen, total)) if total else exact_dec(0),
        financed_scope1_tco2=exact_dec(Fraction(s1, SCALE)),
        financed_scope2_tco2=exact_dec(Fraction(s2, SCALE)),
        financed_tco2=exact_dec(tco2),
        exact=str(tco2),
        # tCO2 per million 元: fen / 10^8
        intensity_tco2_per_million_yuan=dec(tco2 * 100_000_000 / covered_fen)
        if covered_fen
        else None,
        waci_tco2_per_million_revenue=dec(waci) if waci is not None else None,
        weighted_score=dec(score) if score is not None else None,
        scores=group(lambda f: str(f.score) if f.score else "none"),
        by_status=group(lambda f: f.status.value),
        by_grade=group(visible("grade")),
        by_level=group(visible("level")),
        by_colour=group(visible("colour")),
        two_high=_one(computed, "两高", lambda f: f.two_high is True, total),
        high_carbon_industries=_one(
            computed, "high-carbon industries", lambda f: f.high_carbon_industry is True, total
        ),
        green=group(lambda f: f.product if f.green_category else None),
    )


def _exposures(
    computed: Iterable[Computed], key: Callable[[LoanFigure], str | None], total: int
) -> list[Exposure]:
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for c in computed:
        name = key(c.figure)
        if name is None:
            continue
        entry = sums[name]
        entry[0] += 1
        entry[1] += c.outstanding_fen
        entry[2] += c.scope1 + c.scope2
    return [
        Exposure(
            key=name,
            loans=n,
            outstanding_yuan=exact_dec(Fraction(fen, 100)),
            share=exact_dec(Fraction(fen, total)) if total else exact_dec(0),
            financed_tco2=exact_dec(Fraction(t18, SCALE)),
        )
        for name, (n, fen, t18) in sorted(sums.items())
    ]


def _one(
    computed: Sequence[Computed], name: str, test: Callable[[LoanFigure], bool], total: int
) -> Exposure:
    found = _exposures([c for c in computed if test(c.figure)], lambda f: name, total)
    return found[0] if found else Exposure(
        key=name, loans=0, outstanding_yuan=exact_dec(0), share=exact_dec(0),
        financed_tco2=exact_dec(0),
    )  # fmt: skip


def explain_loan(book: Book, loan_id: str) -> LoanFigure:
    """The loan's figure with its steps; NoBookError when the book has no such loan."""
    for figure in book.loans:
        if figure.loan_id == loan_id:
            return figure
    raise NoBookError(f"bank {book.bank_id} has no loan {loan_id} as of {book.as_of}")
