"""Financed emissions of one loan (PCAF Part A, business loans), exactly, with no connection.

    attribution factor AF = outstanding / EVIC                      (listed borrower)
                          = outstanding / (total equity + total debt) (private borrower)
    financed scope k      = AF x the borrower's scope k of the year's account of record

Fallbacks when the balance sheet is missing, each at a worse data-quality score: total assets
stand in for equity + debt (score at least 3); with no balance sheet at all, revenue times the
division's (equity + debt) / revenue over the platform's reporting firms (score at least 4).
AF is capped at 1 (a loan cannot finance more than the whole firm). The balance sheet of the
year is used, else the year before's.

Data-quality score of the emissions (docs/finance.md): 1 verified annual account; 2 metered
account (closed, or the live year) whose meter coverage reaches the threshold; 3 coverage below
it (activity partly estimated). The figure's score is the worse of the emissions' and the
attribution's.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from pydantic import BaseModel, Field

from finance._inputs import BalanceSheet, BookInputs, Borrower, Loan
from finance._model import AccountRef, Attribution, AttributionBasis, LoanFigure, LoanStatus
from finance._numbers import dec, fixed

WAN = 10_000  # 元 per 万元


class FinancePolicy(BaseModel):
    """The choices behind the figures, versioned in the report's method text."""

    coverage_threshold: Decimal = Field(
        Decimal("0.9"), ge=0, le=1, description="meter coverage below this gives score 3"
    )
    high_carbon_divisions: list[str] = Field(
        default_factory=lambda: ["25", "26", "30", "31", "32", "44"],
        description="GB/T 4754 divisions counted as high-carbon industries (高碳行业)",
    )


@dataclass(frozen=True, slots=True)
class Computed:
    """A loan's figure with what the book's sums need, as integers (:mod:`finance._numbers`)."""

    figure: LoanFigure
    outstanding_fen: int
    scope1: int  # financed scope 1, 10⁻¹⁸ tCO2
    scope2: int  # financed scope 2, 10⁻¹⁸ tCO2
    weighted_intensity: int | None  # outstanding (fen) x borrower's tCO2/million 元, 10⁻¹⁸


def compute_loan(loan: Loan, book: BookInputs, policy: FinancePolicy) -> Computed:
    """The loan's figure: a status without consent or data, else attribution x account."""
    base = LoanFigure(
        loan_id=loan.loan_id, borrower_credit_code=loan.borrower, borrower_name=None,
        product=loan.product, green_category=loan.green_category,
        outstanding_yuan=loan.outstanding_yuan, committed_yuan=loan.committed_yuan,
        start_date=loan.start_date, maturity_date=loan.maturity_date,
        project_id=loan.project_id, status=LoanStatus.COMPUTED,
    )  # fmt: skip
    opening = (
        f"loan {loan.loan_id}: {loan.outstanding_yuan} 元 outstanding at {loan.as_of}"
        f" to {loan.borrower} ({loan.product})"
    )
    if loan.borrower not in book.registered:
        return _without(base, LoanStatus.NOT_ON_PLATFORM, opening, "not in the registry")
    if loan.borrower not in book.consented:
        return _without(
            base, LoanStatus.NO_CONSENT, opening, "no valid consent of scope account: no figure"
        )
    borrower = book.borrowers[loan.borrower]
    figure = base.model_copy(update=_standing(loan, borrower, book.year, policy))
    account = borrower.accounts.get(book.year)
    if account is None:
        return _without(
            figure, LoanStatus.NO_ACCOUNT, opening, f"no {book.year} annual account on record"
        )
    attribution = _attribution(loan, borrower, book)
    if attribution is None:
        return _without(
            figure,
            LoanStatus.NO_ECONOMIC_DATA,
            opening,
            f"no balance sheet or revenue for {book.year - 1}-{book.year}: cannot attribute",
        )
    af, attr = attribution
    s1, s2 = Fraction(account.scope1), Fraction(account.scope2)
    f1, f2, total = dec(af * s1), dec(af * s2), dec(af * (s1 + s2))
    score, reason = _score(account.verified, account.coverage, attr.basis, policy)
    sheet = _sheet(borrower, book.year)
    intensity = None
    if sheet is not None and sheet.revenue:
        intensity = (s1 + s2) * 100 / Fraction(sheet.revenue)  # 万元 -> million 元: / 100
    state = account.status + (f", verified ({account.verified})" if account.verified else "")
    steps = [
        opening,
        f"attribution ({attr.basis.value}): {attr.formula} = {attr.factor}"
        + (" (capped at 1)" if attr.capped else ""),
        f"account: {account.year} annual account version {account.version} ({state});"
        f" scope 1 {account.scope1} tCO2, scope 2 {account.scope2} tCO2,"
        f" meter coverage {account.coverage}",
        f"financed: {attr.factor} x {account.scope1} = {f1} tCO2 (scope 1);"
        f" {attr.factor} x {account.scope2} = {f2} tCO2 (scope 2); total {total} tCO2",
        f"PCAF data-quality score {score}: {reason}",
    ]
    figure = figure.model_copy(
        update={
            "attribution": attr,
            "account": AccountRef(
                year=account.year,
                version=account.version,
                status=account.status,
                scope1_tco2=account.scope1,
                scope2_tco2=account.scope2,
                coverage=account.coverage,
                verified=account.verified,
            ),
            "financed_scope1_tco2": f1,
            "financed_scope2_tco2": f2,
            "financed_tco2": total,
            "exact": str(af * (s1 + s2)),
            "score": score,
            "score_reason": reason,
            "two_high": account.two_high,
            "intensity_tco2_per_million_revenue": None if intensity is None else dec(intensity),
            "steps": steps,
        }
    )
    fen = _fen(loan)
    weighted = None if intensity is None else fixed(fen * intensity)
    return Computed(figure, fen, fixed(af * s1), fixed(af * s2), weighted)


def _fen(loan: Loan) -> int:
    """The outstanding amount in fen (分): validation allows at most two decimals of 元."""
    return int(loan.outstanding_yuan * 100)


def _without(figure: LoanFigure, status: LoanStatus, opening: str, why: str) -> Computed:
    steps = [opening, f"{status.value}: {why}"]
    figure = figure.model_copy(update={"status": status, "steps": steps})
    return Computed(figure, int(figure.outstanding_yuan * 100), 0, 0, None)


def _standing(
    loan: Loan, borrower: Borrower, year: int, policy: FinancePolicy
) -> dict[str, object]:
    """Name, industry, the year's grade, level and colour, and the grade at origination."""
    grade, level = borrower.grades.get(year, (None, None))
    earlier = [y for y in borrower.grades if y < loan.start_date.year]
    start_year = max(earlier) if earlier else loan.start_date.year
    origin = borrower.grades.get(start_year, (None, None))[0] if start_year < year else None
    return {
        "borrower_name": borrower.name,
        "industry_code": borrower.industry_code,
        "grade": grade,
        "level": level,
        "colour": borrower.colours.get(year),
        "grade_at_origination": origin,
        "origination_grade_year": start_year if origin is not None else None,
        "worsened": grade is not None and origin is not None and grade > origin,
        "high_carbon_industry": borrower.industry_code[:2] in policy.high_carbon_divisions,
    }


def _sheet(borrower: Borrower, year: int) -> BalanceSheet | None:
    return borrower.sheets.get(year) or borrower.sheets.get(year - 1)


def _attribution(
    loan: Loan, borrower: Borrower, book: BookInputs
) -> tuple[Fraction, Attribution] | None:
    """The attribution factor by the best basis the balance sheets of the year (or before) give."""
    outstanding = Fraction(loan.outstanding_yuan)
    for year in (book.year, book.year - 1):
        sheet = borrower.sheets.get(year)
        if sheet is None:
            continue
        if sheet.evic:
            return _factor(outstanding, AttributionBasis.EVIC, year, Fraction(sheet.evic),
                           f"{loan.outstanding_yuan} / ({sheet.evic} x 10000)")  # fmt: skip
        if sheet.total_equity is not None and sheet.total_debt is not None:
            denominator = Fraction(sheet.total_equity) + Fraction(sheet.total_debt)
            if denominator > 0:
                return _factor(
                    outstanding, AttributionBasis.EQUITY_DEBT, year, denominator,
                    f"{loan.outstanding_yuan} / (({sheet.total_equity} + {sheet.total_debt})"
                    " x 10000)",
                )  # fmt: skip
    for year in (book.year, book.year - 1):
        sheet = borrower.sheets.get(year)
        if sheet is not None and sheet.total_assets:
            return _factor(outstanding, AttributionBasis.TOTAL_ASSETS, year,
                           Fraction(sheet.total_assets),
                           f"{loan.outstanding_yuan} / ({sheet.total_assets} x 10000)")  # fmt: skip
    return _revenue_based(loan, borrower, book)


def _revenue_based(
    loan: Loan, borrower: Borrower, book: BookInputs
) -> tuple[Fraction, Attribution] | None:
    sheet = _sheet(borrower, book.year)
    if sheet is None or not sheet.revenue:
        return None
    division = borrower.industry_code[:2]
    ratios = {d: v for (y, d), v in book.sector_ratios.items() if y == sheet.year}
    if division in ratios:
        financing, revenue, label = *ratios[division], f"division {division}"
    elif ratios:
        financing = sum((f for f, _ in ratios.values()), Decimal(0))
        revenue = sum((r for _, r in ratios.values()), Decimal(0))
        label = "all divisions"
    else:
        return None
    ratio = Fraction(financing) / Fraction(revenue)
    denominator = Fraction(sheet.revenue) * ratio
    return _factor(
        Fraction(loan.outstanding_yuan), AttributionBasis.REVENUE_SECTOR, sheet.year, denominator,
        f"{loan.outstanding_yuan} / ({sheet.revenue} x ({financing} / {revenue}) x 10000)"
        f" [(equity + debt) / revenue of {label}, {sheet.year}]",
    )  # fmt: skip


def _factor(
    outstanding: Fraction, basis: AttributionBasis, year: int, wan: Fraction, formula: str
) -> tuple[Fraction, Attribution]:
    af = outstanding / (wan * WAN)
    capped = af > 1
    af = min(af, Fraction(1))
    return af, Attribution(
        basis=basis, balance_sheet_year=year, denominator_wan=dec(wan) or Decimal(0),
        formula=formula, factor=dec(af) or Decimal(0), capped=capped, exact=str(af),
    )  # fmt: skip


def _score(
    verified: str | None, coverage: Decimal, basis: AttributionBasis, policy: FinancePolicy
) -> tuple[int, str]:
    if verified:
        score, reason = 1, "emissions verified by a third party"
    elif coverage >= policy.coverage_threshold:
        score, reason = (
            2,
            f"metered emissions, meter coverage {coverage} >= {policy.coverage_threshold}",
        )
    else:
        score, reason = (
            3,
            f"meter coverage {coverage} below {policy.coverage_threshold}:"
            " activity partly estimated",
        )
    if basis is AttributionBasis.TOTAL_ASSETS and score < 3:
        score, reason = 3, reason + "; balance sheet estimated from total assets"
    elif basis is AttributionBasis.REVENUE_SECTOR and score < 4:
        score, reason = 4, reason + "; no balance sheet: revenue x the division's financing ratio"
    elif basis in (AttributionBasis.TOTAL_ASSETS, AttributionBasis.REVENUE_SECTOR):
        reason += f"; attribution estimated ({basis.value})"
    return score, reason
