"""Financed emissions as data (pydantic): what the commands print and the API serves.

Figures are Decimals rounded once from exact rationals (12 places, half-even, like the ledger);
the rationals themselves travel as "numerator/denominator" strings in ``exact`` fields, so a
sum or a ratio of figures can be redone without rounding twice.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class LoanStatus(StrEnum):
    COMPUTED = "computed"
    NO_CONSENT = "no_consent"  # stored, but the borrower has not let the bank read its account
    NOT_ON_PLATFORM = "not_on_platform"  # the borrower is not in the registry
    NO_ACCOUNT = "no_account"  # registered, but no annual account for the year
    NO_ECONOMIC_DATA = "no_economic_data"  # neither a balance sheet nor revenue to attribute by


class AttributionBasis(StrEnum):
    EVIC = "evic"  # listed: outstanding / EVIC
    EQUITY_DEBT = "equity_debt"  # private: outstanding / (equity + debt)
    TOTAL_ASSETS = "total_assets"  # fallback: equity + debt estimated by total assets
    REVENUE_SECTOR = "revenue_sector"  # fallback: revenue x the division's (equity+debt)/revenue


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Attribution(_Model):
    basis: AttributionBasis
    balance_sheet_year: int
    denominator_wan: Decimal  # 万元
    formula: str
    factor: Decimal
    capped: bool  # outstanding exceeded the denominator: the factor is 1 (PCAF)
    exact: str


class AccountRef(_Model):
    year: int
    version: int
    status: str
    scope1_tco2: Decimal
    scope2_tco2: Decimal
    coverage: Decimal
    verified: str | None


class LoanFigure(_Model):
    """One loan: its attribution, the account it attributes, and its PCAF data-quality score."""

    loan_id: str
    borrower_credit_code: str
    borrower_name: str | None  # None without consent
    product: str
    green_category: str | None
    outstanding_yuan: Decimal
    committed_yuan: Decimal
    start_date: date
    maturity_date: date
    project_id: str | None
    status: LoanStatus
    attribution: Attribution | None = None
    account: AccountRef | None = None
    financed_scope1_tco2: Decimal | None = None
    financed_scope2_tco2: Decimal | None = None
    financed_tco2: Decimal | None = None
    exact: str | None = None  # financed_tco2 as a rational
    score: int | None = None  # PCAF data-quality score, 1 best .. 5 worst
    score_reason: str | None = None
    industry_code: str | None = None
    grade: int | None = None  # huzhou grade of the year
    level: str | None = None
    colour: str | None = None
    grade_at_origination: int | None = None
    origination_grade_year: int | None = None
    worsened: bool = False
    two_high: bool | None = None
    high_carbon_industry: bool | None = None
    intensity_tco2_per_million_revenue: Decimal | None = None  # the borrower's, for WACI
    steps: list[str] = []  # loan -> attribution -> account version -> emissions


class Exposure(_Model):
    """Outstanding (元) of a group of loans, and its share of the book's outstanding."""

    key: str
    loans: int
    outstanding_yuan: Decimal
    share: Decimal
    financed_tco2: Decimal


class Metrics(_Model):
    loans: int
    outstanding_yuan: Decimal
    covered_outstanding_yuan: Decimal  # loans with a figure
    coverage: Decimal  # covered / all outstanding
    financed_scope1_tco2: Decimal
    financed_scope2_tco2: Decimal
    financed_tco2: Decimal
    exact: str
    intensity_tco2_per_million_yuan: Decimal | None  # over covered loans
    waci_tco2_per_million_revenue: Decimal | None  # over covered loans with revenue
    weighted_score: Decimal | None  # outstanding-weighted PCAF score of covered loans
    scores: list[Exposure]  # 1..5 and "none"
    by_status: list[Exposure]
    by_grade: list[Exposure]
    by_level: list[Exposure]
    by_colour: list[Exposure]
    two_high: Exposure
    high_carbon_industries: Exposure
    green: list[Exposure]  # by product of green loans


class Book(_Model):
    bank_id: str
    as_of: date
    year: int
    loans: list[LoanFigure]
    metrics: Metrics
    watchlist: list[str]  # loan ids whose borrower's grade worsened since origination
    method: str


class Trend(_Model):
    """One as-of date's book in a month-over-month series."""

    as_of: date
    outstanding_yuan: Decimal
    financed_tco2: Decimal
    intensity_tco2_per_million_yuan: Decimal | None
    two_high_share: Decimal
    grade_45_share: Decimal
    change_financed_tco2: Decimal | None  # against the previous date
