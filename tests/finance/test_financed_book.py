"""The hand-computed book (tests/finance/helpers.py): every figure checked against the hand."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from fractions import Fraction

import psycopg
import pytest

from finance import Book, LoanStatus, explain_loan, financed_book, trend
from finance._numbers import exact_dec
from tests.finance.helpers import (
    AS_OF,
    BANK,
    DIESEL,
    LOANS,
    OTHER_BANK,
    S2_A,
    S2_B,
    S2_C,
    apply_book_at,
    build,
)

S1_B = Fraction(exact_dec(6 * DIESEL))  # the account stores its exact value rounded once


def d(value: Fraction) -> Decimal:
    return exact_dec(value)


@pytest.fixture
def conn(db_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(db_url) as conn:
        build(conn)
        yield conn


@pytest.fixture
def book(conn: psycopg.Connection) -> Book:
    return financed_book(conn, BANK, year=2025)


def test_each_loan_is_attribution_times_the_account(book: Book) -> None:
    by_id = {f.loan_id: f for f in book.loans}
    assert [f.loan_id for f in book.loans] == ["L1", "L2", "L3", "L4", "L5", "L6"]
    expected = {  # loan: (AF, basis, scope 1, scope 2, score)
        "L1": (Fraction(5_000_000, 5_000 * 10_000), "equity_debt", 0, S2_A, 1),
        "L2": (Fraction(2_500_000, 5_000 * 10_000), "equity_debt", 0, S2_A, 1),
        "L3": (Fraction(4_000_000, 8_000 * 10_000), "evic", S1_B, S2_B, 3),
        "L4": (Fraction(3_500_000, 250 * 7 * 10_000), "revenue_sector", 0, S2_C, 4),
    }
    for loan, (af, basis, s1, s2, score) in expected.items():
        f = by_id[loan]
        assert f.status is LoanStatus.COMPUTED
        assert f.attribution is not None and f.attribution.basis.value == basis
        assert Fraction(f.attribution.exact) == af
        assert f.financed_scope1_tco2 == d(af * s1), loan
        assert f.financed_scope2_tco2 == d(af * s2), loan
        assert Fraction(f.exact or "0") == af * (s1 + s2)
        assert f.score == score, (loan, f.score_reason)
        assert f.account is not None and f.account.version == 1 and f.account.status == "closed"
    assert by_id["L1"].financed_tco2 == Decimal("1.7428896")
    assert by_id["L4"].financed_tco2 == Decimal("3.4857792")
    assert by_id["L1"].account.verified == "verified"  # type: ignore[union-attr]
    assert by_id["L3"].account.coverage < Decimal("0.9")  # type: ignore[union-attr]
    # the loans without a figure leak nothing of the borrower
    assert by_id["L5"].status is LoanStatus.NO_CONSENT
    assert by_id["L6"].status is LoanStatus.NOT_ON_PLATFORM
    for f in (by_id["L5"], by_id["L6"]):
        assert (f.borrower_name, f.financed_tco2, f.grade, f.industry_code, f.two_high) == (
            None, None, None, None, None,
        )  # fmt: skip


def test_the_book_metrics(book: Book) -> None:
    m = book.metrics
    s1 = S1_B / 20
    s2 = S2_A / 10 + S2_A / 20 + S2_B / 20 + S2_C / 5
    assert m.outstanding_yuan == 17_000_000 and m.covered_outstanding_yuan == 15_000_000
    assert m.coverage == d(Fraction(15, 17))
    assert (m.financed_scope1_tco2, m.financed_scope2_tco2) == (d(s1), d(s2))
    assert m.financed_tco2 == d(s1 + s2) and Fraction(m.exact) == s1 + s2
    assert m.intensity_tco2_per_million_yuan == d((s1 + s2) / 15)
    intensity = {  # tCO2 per million 元 revenue (revenue in 万元 / 100)
        "A": S2_A * 100 / 400,
        "B": (S1_B + S2_B) * 100 / 600,
        "C": S2_C * 100 / 250,
    }
    waci = (5 * intensity["A"] + Fraction(5, 2) * intensity["A"] + 4 * intensity["B"]
            + Fraction(7, 2) * intensity["C"]) / 15  # fmt: skip
    assert m.waci_tco2_per_million_revenue == d(waci)
    assert m.weighted_score == d(
        Fraction(5 * 1 + Fraction(5, 2) * 1 + 4 * 3 + Fraction(7, 2) * 4, 15)
    )
    assert {e.key: e.outstanding_yuan for e in m.scores} == {
        "1": 7_500_000, "3": 4_000_000, "4": 3_500_000, "none": 2_000_000,
    }  # fmt: skip
    assert {e.key: e.outstanding_yuan for e in m.by_grade} == {
        "3": 15_000_000, "no_consent": 1_000_000, "not_on_platform": 1_000_000,
    }  # fmt: skip
    assert {e.key: e.outstanding_yuan for e in m.by_level if e.key in ("低碳", "高碳")} == {
        "低碳": 11_000_000, "高碳": 4_000_000,
    }  # fmt: skip
    assert (m.two_high.outstanding_yuan, m.two_high.share) == (4_000_000, d(Fraction(4, 17)))
    assert m.two_high.financed_tco2 == d((S1_B + S2_B) / 20)
    assert m.high_carbon_industries.outstanding_yuan == 4_000_000
    assert [(e.key, e.outstanding_yuan) for e in m.green] == [("绿色贷款", 2_500_000)]


def test_the_worsened_grade_puts_the_loan_on_the_watchlist(book: Book) -> None:
    by_id = {f.loan_id: f for f in book.loans}
    assert (by_id["L1"].grade_at_origination, by_id["L1"].origination_grade_year) == (2, 2024)
    assert (by_id["L2"].grade_at_origination, by_id["L2"].origination_grade_year) == (3, 2023)
    assert by_id["L1"].grade == by_id["L2"].grade == 3
    assert book.watchlist == ["L1"]


def test_every_figure_explains_itself(book: Book) -> None:
    steps = explain_loan(book, "L3").steps
    assert steps[0].startswith("loan L3: 4000000 元 outstanding at 2025-12-31")
    assert steps[1] == "attribution (evic): 4000000 / (8000 x 10000) = 0.05"
    assert steps[2].startswith("account: 2025 annual account version 1 (closed)")
    assert f"total {d((S1_B + S2_B) / 20)} tCO2" in steps[3]
    assert steps[4].startswith("PCAF data-quality score 3: meter coverage")


def test_a_bank_sees_only_its_own_book(conn: psycopg.Connection) -> None:
    other = financed_book(conn, OTHER_BANK, year=2025)
    assert [f.loan_id for f in other.loans] == ["L1"]
    assert other.loans[0].status is LoanStatus.NO_CONSENT  # bank-b has no consent of A


def test_month_over_month(conn: psycopg.Connection) -> None:
    apply_book_at(conn, LOANS[:2], date(2025, 11, 30))
    months = trend(conn, BANK)
    assert [t.as_of for t in months] == [date(2025, 11, 30), AS_OF]
    first = S2_A / 10 + S2_A / 20
    assert months[0].financed_tco2 == d(first)
    total = S1_B / 20 + S2_A / 10 + S2_A / 20 + S2_B / 20 + S2_C / 5
    assert months[1].change_financed_tco2 == d(total - first)
    assert months[1].two_high_share == d(Fraction(4, 17)) and months[0].two_high_share == 0
