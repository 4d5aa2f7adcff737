"""The account as data (pydantic): what ``get_account`` returns and ``account_periods.detail``
stores. ``model_dump(mode="json")`` gives numbers as decimal strings, so nothing is lost."""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext
from fractions import Fraction
from typing import Literal

from pydantic import BaseModel, ConfigDict

from accounts.ledger._policy import FactorRef

PLACES = 12  # stored figures: the exact rational value rounded once, half-even
ROUNDING_NOTE = (
    "computed exactly (rationals); each stored figure is its exact value rounded once to"
    f" {PLACES} decimals (half-even, trailing zeros dropped), totals from the exact sum,"
    " not from rounded lines;"
    " show/explain/report print 3 decimals (tCO2, tce) and 4 for intensities"
)
# provisional: a period neither live nor closed (a past month not closed yet), computed on demand
Status = Literal["live", "provisional", "closed", "superseded"]


def dec(value: Fraction | int | None) -> Decimal | None:
    """An exact rational as a Decimal with :data:`PLACES` decimals (see :func:`dec_ratio`)."""
    if value is None:
        return None
    if type(value) is not Fraction:
        value = Fraction(value)
    return dec_ratio(value.numerator, value.denominator)


def dec_ratio(numerator: int, denominator: int) -> Decimal:
    """``numerator / denominator`` (denominator > 0, not necessarily in lowest terms) as
    :func:`dec_reference` rounds it, in integer arithmetic: this runs hundreds of thousands of
    times per live cycle, and the Decimal divisions cost more than one integer division.

    The reference divides to 60 significant digits, then rounds to :data:`PLACES` decimals
    (half-even). The first rounding moves the value by at most half a unit of the 60th digit,
    so it changes the second only when the remainder lies that close to a half: those values
    (and quotients of 48 or more integer digits) go to the reference itself.
    """
    if not numerator:
        return _ZERO  # what the division gives for 0 (never -0: a Fraction's 0 has no sign)
    size = -numerator if numerator < 0 else numerator
    # an upper bound of the quotient's integer digits: size / denominator < 10**digits
    digits = (size.bit_length() - denominator.bit_length() + 1) * 30103 // 100_000 + 1
    if digits >= _FINE:
        return _reference(numerator, denominator)
    scaled, rest = divmod(size * _SCALE, denominator)
    off_half = 2 * rest - denominator
    if (-off_half if off_half < 0 else off_half) * 10 ** (_FINE - digits) <= denominator:
        return _reference(numerator, denominator)
    if off_half > 0:
        scaled += 1
    if not scaled:
        return _NEGATIVE_ZERO if numerator < 0 else _ZERO  # as the reference shows it
    if numerator < 0:
        scaled = -scaled
    if not scaled % _SCALE:
        return Decimal(scaled // _SCALE)
    return _CONTEXT.normalize(Decimal(scaled).scaleb(-PLACES, _CONTEXT))


def _reference(numerator: int, denominator: int) -> Decimal:
    out = dec_reference(Fraction(numerator, denominator))
    assert out is not None  # noqa: S101 - dec_reference(None) only
    return out


_PRECISION = 60  # the Decimal context the figures were always divided in
_FINE = _PRECISION - PLACES  # quotients below 10**_FINE keep digits past the 12th decimal
_CONTEXT = Context(prec=_PRECISION, rounding=ROUND_HALF_EVEN)
_SCALE = 10**PLACES
_ZERO = Decimal(0)
_NEGATIVE_ZERO = Decimal("-0")


def dec_reference(value: Fraction | int | None) -> Decimal | None:
    """:func:`dec` as Decimal arithmetic (the definition; the tests compare the two)."""
    if value is None:
        return None
    value = Fraction(value)
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        quotient = Decimal(value.numerator) / Decimal(value.denominator)
        rounded = quotient.quantize(Decimal(1).scaleb(-PLACES), rounding=ROUND_HALF_EVEN)
        return plain(rounded)


def plain(value: Decimal) -> Decimal:
    """Without trailing zeros and never in exponent form: 0.7461, 100, 0 (what JSON shows)."""
    out = value.normalize()
    exponent = out.as_tuple().exponent
    return out.quantize(Decimal(1)) if isinstance(exponent, int) and exponent > 0 else out


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EnterpriseInfo(_Model):
    code: str
    name: str
    industry_code: str
    district: str
    size_class: str | None = None


class PeriodInfo(_Model):
    kind: Literal["month", "year", "mtd", "rolling12"]
    start: date
    end: date  # exclusive
    label: str
    text: str  # what Period.parse reads back
    as_of: datetime  # data up to here (a live period: the computation time)
    live: bool


class MonthPart(_Model):
    """One month of a line: activity, the factor in force that month, and the month's own
    rollups; its emissions sit in the field the line keeps them in (own generation: avoided)."""

    month: date
    activity: Decimal
    tco2: Decimal | None
    factor_id: str | None
    tce_equivalent: Decimal | None
    tce_equal: Decimal | None
    tco2_avoided: Decimal | None = None
    buckets: int | None = None  # None: green power (no rollups), or stored before it was kept
    covered_ms: int | None = None


class Line(_Model):
    """One meter's booked quantity in the account (GB/T 32150 role and source)."""

    meter_id: str
    carrier: str
    quantity: str
    role: str
    source: str
    scope: int | None
    unit: str
    activity: Decimal
    tco2: Decimal | None = None  # signed: exports negative; None for own generation, CEMS
    tco2_avoided: Decimal | None = None
    tco2_measured: Decimal | None = None
    tce_equivalent: Decimal | None = None
    tce_equal: Decimal | None = None
    factors: list[FactorRef] = []
    formula: str = ""
    tce_factors: list[FactorRef] = []
    tce_formula: str = ""
    covered_ms: int = 0
    estimated_ms: int = 0
    coverage: Decimal = Decimal(0)
    buckets: int = 0
    last_bucket: datetime | None = None
    months: list[MonthPart] = []


class CarrierTotal(_Model):
    """Activity and emissions of one carrier in one role (all its meters)."""

    carrier: str
    role: str
    unit: str
    meters: int
    activity: Decimal
    tco2: Decimal | None  # None for own generation (see totals) and CEMS
    tce_equivalent: Decimal | None


class Totals(_Model):
    """E_total = combustion + process + purchased electricity + purchased heat - exported
    electricity - exported heat - recovered (GB/T 32150), tCO2; tce on both electricity bases."""

    combustion: Decimal
    process: Decimal
    purchased_electricity: Decimal
    purchased_heat: Decimal
    exported_electricity: Decimal
    exported_heat: Decimal
    recovered: Decimal
    green_power: Decimal  # zero-rated green purchases (accounts.green_power = residual), <= 0
    total: Decimal
    scope1: Decimal
    scope2: Decimal
    own_generation_avoided: Decimal
    measured: Decimal | None  # CEMS, beside the calculated figure, never in it
    tce_equivalent: Decimal
    tce_equal: Decimal


class Figure(_Model):
    value: Decimal | None
    basis: str  # reported | estimated (how) | missing


class Economics(_Model):
    value_added: Figure
    revenue: Figure
    output_quantity: Figure
    output_unit: str | None = None


class Intensity(_Model):
    per_value_added: Decimal | None  # tCO2 per 万元 value added
    per_revenue: Decimal | None  # tCO2 per 万元 revenue
    per_output: Decimal | None  # tCO2 per output unit
    output_unit: str | None = None
    tce_per_value_added: Decimal | None = None


class Exact(_Model):
    """The exact rationals ("numerator/denominator") behind the figures that are divided again:
    intensities and grades (L, industry L, K) come from these, so a figure is rounded once."""

    total: str
    tce_equivalent: str
    value_added: str | None = None
    revenue: str | None = None
    output_quantity: str | None = None

    @staticmethod
    def of(value: Fraction | Decimal | None) -> str | None:
        return None if value is None else str(value)

    @staticmethod
    def value(text: str | None) -> Fraction | None:
        return None if text is None else Exact.fraction(text)

    @staticmethod
    def fraction(text: str) -> Fraction:
        """An exact value as written ("a/b", or a decimal of an older account): "a/b" split by
        hand, a third of the time of Fraction's own parser (a regrade reads 450,000 of them)."""
        numerator, _, denominator = text.partition("/")
        return Fraction(int(numerator), int(denominator)) if denominator else Fraction(text)

    @staticmethod
    def ratio(text: str | None) -> tuple[int, int] | None:
        """:meth:`value` as (numerator, denominator > 0), not reduced: grading computes with
        the pair (``accounts.ledger._grading.Ratio``) and reduces nothing per enterprise."""
        if text is None:
            return None
        numerator, _, denominator = text.partition("/")
        if not denominator:
            return Fraction(text).as_integer_ratio()
        n, d = int(numerator), int(denominator)
        if d <= 0:
            if not d:
                raise ZeroDivisionError(f"exact value {text!r}: denominator 0")
            return -n, -d
        return n, d


class Quality(_Model):
    meters: int
    coverage: Decimal  # covered time / (meters x period time)
    estimated_share: Decimal  # estimated / covered time
    offline_meters: list[str]
    events: dict[str, int]
    period_ms: int


class CrossCheck(_Model):
    """CEMS-measured CO2 beside the calculated scope-1 figure (a check, never a replacement)."""

    stacks: list[str]
    measured_tco2: Decimal
    calculated_scope1_tco2: Decimal
    difference_tco2: Decimal  # measured - calculated
    note: str


class GradeRecord(_Model):
    enterprise_code: str
    period_kind: str
    period_start: date
    model: str
    model_version: str
    industry_code: str
    l_value: Decimal | None
    industry_l: Decimal | None
    k_value: Decimal | None
    grade: int | None
    colour: str | None
    level: str | None
    basis: Literal["value_added", "revenue"] | None
    label: str
    account_version: int
    computed_at: datetime | None = None

    @property
    def code_text(self) -> str:
        """ "高碳3级", "浅绿", or why there is none."""
        if self.colour:
            return self.colour
        if self.grade is None:
            return "not graded"
        return f"{self.level or ''}{self.grade}级"


class Account(_Model):
    enterprise: EnterpriseInfo
    period: PeriodInfo
    status: Status
    version: int
    computed_at: datetime
    reason: str | None = None
    lines: list[Line]
    by_carrier: list[CarrierTotal] = []
    totals: Totals
    economics: Economics
    intensity: Intensity
    quality: Quality
    cross_check: CrossCheck | None = None
    two_high: bool | None = None  # 两高 flag (year and rolling 12 months only)
    factor_ids: list[str]
    exact: Exact | None = None  # None in accounts stored before it was recorded
    grades: list[GradeRecord] = []
    rounding: str = ROUNDING_NOTE
