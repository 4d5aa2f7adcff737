"""Carbon-efficiency codes (碳效码, domain.md section 5) from accounts of one period.

L = (E - E_sinks) / VA in tCO2 per 万元. The Huzhou formula subtracts the emissions avoided by
own zero-carbon generation from an E that counts all electricity used; our E_total counts
purchased electricity only (own generation already lowers it), so E - E_avoided is our E_total
and nothing is subtracted twice. E_sinks is 0 (no sink data). Industry L is the aggregate ratio
sum(E) / sum(VA) over the enterprises of the same GB/T 4754 class; K = L / industry L. Without
value added, revenue is the basis (Changxing's practice) and the label says so; levels are
defined on value added only, so a revenue-based code has no level.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction
from functools import cached_property
from importlib import resources
from math import gcd
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from accounts.ledger._model import GradeRecord, dec, dec_ratio
from carbonledger.errors import ConfigError
from carbonledger.tomlfile import describe, read_toml

T = TypeVar("T")


class _Band(BaseModel):
    model_config = ConfigDict(extra="forbid")
    k_max: Decimal | None = Field(None, gt=0)


class _Grade(_Band):
    grade: int = Field(ge=1, le=5)
    meaning: str = ""


class _Colour(_Band):
    colour: Literal["深绿", "浅绿", "黄", "红"]


class _Level(BaseModel):
    model_config = ConfigDict(extra="forbid")
    level: Literal["低碳", "中碳", "高碳"]
    l_max: Decimal | None = Field(None, gt=0)


class BandSet(BaseModel):
    """A versioned grading model (accounts/ledger/grading/*.toml)."""

    model_config = ConfigDict(extra="forbid")
    model: str
    version: str
    kind: Literal["grade", "colour"]
    source: str
    worsening: Decimal | None = None
    grade: list[_Grade] = []
    colour: list[_Colour] = []
    level: list[_Level] = []

    def grade_of(self, k: Fraction | Ratio) -> int:
        return _first(self.bounds.grade, *_as_ratio(k))

    def colour_of(self, k: Fraction | Ratio) -> str:
        return _first(self.bounds.colour, *_as_ratio(k))

    def level_of(self, value: Fraction | Ratio) -> str | None:
        if not self.level:
            return None
        return _first(self.bounds.level, *_as_ratio(value))

    @cached_property
    def bounds(self) -> _Bounds:
        """The upper bounds as Fractions, converted once (grading compares 300,000 values)."""

        def exact(upper: Decimal | None) -> tuple[int, int] | None:
            return None if upper is None else Fraction(upper).as_integer_ratio()

        return _Bounds(
            [(b.grade, exact(b.k_max)) for b in self.grade],
            [(b.colour, exact(b.k_max)) for b in self.colour],
            [(b.level, exact(b.l_max)) for b in self.level],
        )


@dataclass(frozen=True)
class _Bounds:
    """Upper bounds as (numerator, denominator); None: no bound (the last band)."""

    grade: list[tuple[int, tuple[int, int] | None]]
    colour: list[tuple[str, tuple[int, int] | None]]
    level: list[tuple[str, tuple[int, int] | None]]


def _first(bands: Sequence[tuple[T, tuple[int, int] | None]], num: int, den: int) -> T:
    """The first band whose upper bound (inclusive) holds ``num / den`` (``den`` > 0, not
    necessarily in lowest terms); the last has none. (Compared by cross-multiplying.)"""
    for name, upper in bands:
        if upper is None or num * upper[1] <= upper[0] * den:
            return name
    return bands[-1][0]


def band_sets() -> dict[str, BandSet]:
    """Every packaged band set by version; a bad file names file:line:key."""
    folder = resources.files("accounts.ledger") / "grading"
    out = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".toml"):
            continue
        path = Path(str(entry))
        text, values = read_toml(path, parse_float=Decimal)
        try:
            bands = BandSet.model_validate(values)
        except ValidationError as exc:
            raise ConfigError(describe(exc, path, text, "invalid band set")) from exc
        out[bands.version] = bands
    return out


def band_set(version: str) -> BandSet:
    sets = band_sets()
    if version not in sets:
        raise ConfigError(f"unknown band version {version!r}; known: {', '.join(sorted(sets))}")
    return sets[version]


# an exact rational as (numerator, denominator > 0), not necessarily in lowest terms: what
# grading computes with (a regrade divides 300,000 times; a Fraction would reduce each result)
Ratio = tuple[int, int]


@dataclass(frozen=True)
class Standing:
    """What grading needs of one enterprise's account for the period."""

    code: str
    industry_code: str
    tco2: Fraction | Decimal | Ratio  # exact: an account's recorded exact values
    value_added: Fraction | Decimal | Ratio | None
    revenue: Fraction | Decimal | Ratio | None
    version: int
    notes: tuple[str, ...] = ()  # data-quality and estimate flags for the label
    previous_l: Decimal | None = None  # L of the same period a year earlier (colour model)


_KIND_LABEL = {
    "month": "monthly",
    "year": "annual",
    "mtd": "month-to-date estimate",
    "rolling12": "rolling 12-month estimate",
}


def grade(
    standings: Sequence[Standing],
    *,
    period_kind: str,
    period_start: date,
    live: bool,
    bands: BandSet,
) -> list[GradeRecord]:
    """Grades (or colours) of every enterprise in ``standings`` against its industry."""
    return grade_models(
        standings, period_kind=period_kind, period_start=period_start, live=live, models=[bands]
    )


def grade_models(
    standings: Sequence[Standing],
    *,
    period_kind: str,
    period_start: date,
    live: bool,
    models: Sequence[BandSet],
) -> list[GradeRecord]:
    """:func:`grade` for several band sets, model after model."""
    rows = grade_rows(
        standings, period_kind=period_kind, period_start=period_start, live=live, models=models
    )
    return [GradeRecord(**dict(zip(GRADE_FIELDS, row, strict=True))) for row in rows]


# a grade row's values, in this order (the ``grades`` columns a regrade writes)
GRADE_FIELDS = (
    "enterprise_code", "period_kind", "period_start", "model", "model_version", "industry_code",
    "l_value", "industry_l", "k_value", "grade", "colour", "level", "basis", "label",
    "account_version",
)  # fmt: skip
GradeRow = tuple[object, ...]


def grade_rows(
    standings: Sequence[Standing],
    *,
    period_kind: str,
    period_start: date,
    live: bool,
    models: Sequence[BandSet],
) -> list[GradeRow]:
    """The grades of :func:`grade_models` as rows of :data:`GRADE_FIELDS`, model after model.

    A regrade writes 300,000 of them a province cycle: L, industry L and K do not depend on the
    bands, so they are computed (and rounded) once for all models, and no record is validated.
    """
    kind_label = _KIND_LABEL[period_kind]
    if period_kind == "year" and live:
        kind_label = "annual estimate (year to date)"
    ratios = _ratios(standings, kind_label)
    return [
        _one(s, r, bands=b, period_kind=period_kind, period_start=period_start)
        for b in models
        for s, r in zip(standings, ratios, strict=True)
    ]


@dataclass(frozen=True)
class _Ratio:
    """The band-independent part of one enterprise's grade."""

    basis: Literal["value_added", "revenue"] | None
    notes: tuple[str, ...]
    l_value: Ratio | None = None
    k: Ratio | None = None
    rounded: tuple[Decimal | None, Decimal | None, Decimal | None] = (None, None, None)


def _as_ratio(value: Fraction | Decimal | Ratio) -> Ratio:
    """``value`` as (numerator, denominator > 0)."""
    return value if type(value) is tuple else value.as_integer_ratio()  # type: ignore[union-attr]


def _pair(value: Fraction | Decimal | Ratio | None) -> Ratio | None:
    return None if value is None else _as_ratio(value)


class _Sum:
    """An industry's sums of E and of the basis: added over a common denominator (one gcd per
    term instead of Fraction's normalising each partial sum), reduced once at the end."""

    __slots__ = ("_ratio", "b_den", "b_num", "e_den", "e_num")

    def __init__(self) -> None:
        self.e_num, self.e_den, self.b_num, self.b_den = 0, 1, 0, 1
        self._ratio: tuple[Fraction, Decimal | None] | None = None

    def add(self, e: Ratio, b: Ratio) -> None:
        self.e_num, self.e_den = _plus(self.e_num, self.e_den, e)
        self.b_num, self.b_den = _plus(self.b_num, self.b_den, b)

    def ratio(self) -> tuple[Fraction, Decimal | None]:
        """Industry L = sum(E) / sum(basis), exact and rounded (computed once)."""
        if self._ratio is None:
            value = Fraction(self.e_num, self.e_den) / Fraction(self.b_num, self.b_den)
            self._ratio = (value, dec(value))
        return self._ratio


def _plus(num: int, den: int, value: Ratio) -> tuple[int, int]:
    n, d = value
    if d == den:
        return num + n, den
    common = den // gcd(den, d) * d
    return num * (common // den) + n * (common // d), common


def _ratios(standings: Sequence[Standing], kind_label: str) -> list[_Ratio]:
    """Sums per industry first, then each enterprise's L and K, in integer arithmetic on
    (numerator, denominator) pairs: :func:`dec_ratio` rounds a pair by its value and the bands
    compare by cross-multiplying, so nothing needs a reduced Fraction."""
    sums: dict[tuple[str, str], _Sum] = defaultdict(_Sum)
    exact = []
    for s in standings:
        e, va, rev = _pair(s.tco2), _pair(s.value_added), _pair(s.revenue)
        assert e is not None  # noqa: S101 - a standing always has a total
        va = va if va is not None and va[0] else None  # 0 divides nothing: no basis
        rev = rev if rev is not None and rev[0] else None
        if va is not None:
            sums["value_added", s.industry_code].add(e, va)
        if rev is not None:
            sums["revenue", s.industry_code].add(e, rev)
        exact.append((e, va, rev))
    return [_ratio(s, x, sums, kind_label) for s, x in zip(standings, exact, strict=True)]


def _ratio(
    s: Standing,
    exact: tuple[Ratio, Ratio | None, Ratio | None],
    sums: dict[tuple[str, str], _Sum],
    kind_label: str,
) -> _Ratio:
    (e_num, e_den), va, rev = exact
    notes = (kind_label, *s.notes)
    basis: Literal["value_added", "revenue"]
    if va is not None:
        basis, (b_num, b_den) = "value_added", va
    elif rev is not None:
        basis, (b_num, b_den) = "revenue", rev
        notes += ("revenue basis (no value added): per 万元 revenue",)
    else:
        return _Ratio(None, (*notes, "not graded: no value added or revenue"))
    l_num, l_den = e_num * b_den, e_den * b_num  # L = E / basis
    if l_den < 0:
        l_num, l_den = -l_num, -l_den
    industry_l, industry_rounded = sums[basis, s.industry_code].ratio()
    l_rounded = dec_ratio(l_num, l_den)
    i_num, i_den = industry_l.numerator, industry_l.denominator
    if i_num > 0:
        k = (l_num * i_den, l_den * i_num)  # K = L / industry L
        return _Ratio(basis, notes, (l_num, l_den), k, (l_rounded, industry_rounded, dec_ratio(*k)))
    notes += ("not graded: the industry emits nothing in this period",)
    return _Ratio(basis, notes, (l_num, l_den), None, (l_rounded, industry_rounded, None))


def _one(
    s: Standing,
    r: _Ratio,
    *,
    bands: BandSet,
    period_kind: str,
    period_start: date,
) -> GradeRow:
    notes = list(r.notes)
    grade_value: int | None = None
    colour = level = None
    if r.k is not None:
        if bands.kind == "grade":
            grade_value = bands.grade_of(r.k)
        else:
            colour = _colour(bands, r.k, r.l_value, s.previous_l, notes)
    if r.l_value is not None and r.basis == "value_added" and bands.kind == "grade":
        level = bands.level_of(r.l_value)
    l_value, industry_l, k = r.rounded
    return (
        s.code, period_kind, period_start, bands.model, bands.version, s.industry_code,
        l_value, industry_l, k, grade_value, colour, level, r.basis, "; ".join(notes), s.version,
    )  # fmt: skip


_COLOURS = ("深绿", "浅绿", "黄", "红")


def _colour(
    bands: BandSet,
    k: Ratio,
    l_value: Ratio | None,
    previous: Decimal | None,
    notes: list[str],
) -> str:
    colour = bands.colour_of(k)
    if previous and l_value is not None and bands.worsening is not None:
        rise = Fraction(*l_value) / Fraction(previous) - 1
        if rise > Fraction(bands.worsening):
            colour = _COLOURS[min(_COLOURS.index(colour) + 1, len(_COLOURS) - 1)]
            notes.append(f"one step down: L {float(rise):+.1%} on a year earlier")
    return colour
