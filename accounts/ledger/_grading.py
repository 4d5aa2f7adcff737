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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction
from importlib import resources
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from accounts.ledger._model import GradeRecord, dec
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

    def grade_of(self, k: Fraction) -> int:
        return _first(((b.grade, b.k_max) for b in self.grade), k)

    def colour_of(self, k: Fraction) -> str:
        return _first(((b.colour, b.k_max) for b in self.colour), k)

    def level_of(self, value: Fraction) -> str | None:
        if not self.level:
            return None
        return _first(((b.level, b.l_max) for b in self.level), value)


def _first(bands: Iterable[tuple[T, Decimal | None]], value: Fraction) -> T:
    """The first band whose upper bound (inclusive) holds ``value``; the last has none."""
    items = list(bands)
    for name, upper in items:
        if upper is None or value <= Fraction(upper):
            return name
    return items[-1][0]


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


@dataclass(frozen=True)
class Standing:
    """What grading needs of one enterprise's account for the period."""

    code: str
    industry_code: str
    tco2: Fraction | Decimal  # exact (Fraction) from an account's recorded exact values
    value_added: Fraction | Decimal | None
    revenue: Fraction | Decimal | None
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
    va_sum: dict[str, list[Fraction]] = defaultdict(lambda: [Fraction(0), Fraction(0)])
    rev_sum: dict[str, list[Fraction]] = defaultdict(lambda: [Fraction(0), Fraction(0)])
    for s in standings:
        if s.value_added:
            va_sum[s.industry_code][0] += Fraction(s.tco2)
            va_sum[s.industry_code][1] += Fraction(s.value_added)
        if s.revenue:
            rev_sum[s.industry_code][0] += Fraction(s.tco2)
            rev_sum[s.industry_code][1] += Fraction(s.revenue)
    kind_label = _KIND_LABEL[period_kind]
    if period_kind == "year" and live:
        kind_label = "annual estimate (year to date)"
    return [
        _one(
            s,
            va_sum if s.value_added else rev_sum,
            bands=bands,
            kind_label=kind_label,
            period_kind=period_kind,
            period_start=period_start,
        )
        for s in standings
    ]


def _one(
    s: Standing,
    sums: dict[str, list[Fraction]],
    *,
    bands: BandSet,
    kind_label: str,
    period_kind: str,
    period_start: date,
) -> GradeRecord:
    basis: Literal["value_added", "revenue"] | None = (
        "value_added" if s.value_added else "revenue" if s.revenue else None
    )
    denominator = s.value_added or s.revenue
    notes = [kind_label, *s.notes]
    l_value = industry_l = k = None
    grade_value: int | None = None
    colour = level = None
    if basis is None or not denominator:
        notes.append("not graded: no value added or revenue")
    else:
        if basis == "revenue":
            notes.append("revenue basis (no value added): per 万元 revenue")
        l_value = Fraction(s.tco2) / Fraction(denominator)
        industry_l = sums[s.industry_code][0] / sums[s.industry_code][1]
        if industry_l > 0:
            k = l_value / industry_l
            if bands.kind == "grade":
                grade_value = bands.grade_of(k)
            else:
                colour = _colour(bands, k, l_value, s.previous_l, notes)
        else:
            notes.append("not graded: the industry emits nothing in this period")
        if basis == "value_added" and bands.kind == "grade":
            level = bands.level_of(l_value)
    return GradeRecord(
        enterprise_code=s.code,
        period_kind=period_kind,
        period_start=period_start,
        model=bands.model,
        model_version=bands.version,
        industry_code=s.industry_code,
        l_value=dec(l_value),
        industry_l=dec(industry_l),
        k_value=dec(k),
        grade=grade_value,
        colour=colour,
        level=level,
        basis=basis,
        label="; ".join(notes),
        account_version=s.version,
    )


_COLOURS = ("深绿", "浅绿", "黄", "红")


def _colour(
    bands: BandSet, k: Fraction, l_value: Fraction, previous: Decimal | None, notes: list[str]
) -> str:
    colour = bands.colour_of(k)
    if previous and bands.worsening is not None:
        rise = l_value / Fraction(previous) - 1
        if rise > Fraction(bands.worsening):
            colour = _COLOURS[min(_COLOURS.index(colour) + 1, len(_COLOURS) - 1)]
            notes.append(f"one step down: L {float(rise):+.1%} on a year earlier")
    return colour
