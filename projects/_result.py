"""What a reduction computation returns: exact figures, with what each came from.

Figures stay :class:`~fractions.Fraction` here; :meth:`as_json` rounds once, for people and
for the API (tCO2 to 6 decimals, shares to 6).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

from accounts.ledger import Factor


def dec(value: Fraction, digits: int = 6) -> Decimal:
    """Round an exact value once, half to even, for presentation."""
    return round(Decimal(value.numerator) / Decimal(value.denominator), digits)


def _factor(f: Factor) -> dict[str, Any]:
    return {
        "id": f.id,
        "version": f.version,
        "value": str(f.value),
        "unit": f.unit,
        "data_year": f.data_year,
        "source": f.source,
        "document": f.document,
        "published": f.published.isoformat(),
    }


@dataclass(frozen=True)
class Line:
    """One input of a month's reduction: a meter's activity, or a computed quantity."""

    name: str
    value: Fraction
    unit: str
    note: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "value": str(dec(self.value)), "unit": self.unit,
                "note": self.note}  # fmt: skip


@dataclass(frozen=True)
class MonthReduction:
    month: date
    share: Fraction  # of the month elapsed (1: a whole month)
    reduction: Fraction | None  # tCO2; None when it cannot be computed (flags say why)
    lines: tuple[Line, ...]
    factors: tuple[Factor, ...]
    formula: str
    coverage: Fraction
    estimated_share: Fraction
    flags: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "month": f"{self.month:%Y-%m}",
            "live": self.share < 1,
            "reduction_tco2": None if self.reduction is None else str(dec(self.reduction)),
            "coverage": str(dec(self.coverage, 4)),
            "estimated_share": str(dec(self.estimated_share, 4)),
            "flags": list(self.flags),
            "formula": self.formula,
            "lines": [line.as_json() for line in self.lines],
            "factors": [_factor(f) for f in self.factors],
        }


@dataclass(frozen=True)
class Baseline:
    """An IPMVP baseline model, its statistics and the verdict on it."""

    months: tuple[date, ...]
    driver: str
    energy: tuple[Fraction, ...]
    drivers: tuple[Fraction, ...] | None
    unit: str
    intercept: Fraction
    slope: Fraction
    r2: Fraction | None
    cv_rmse: Decimal
    nmbe: Fraction
    accepted: bool
    failures: tuple[str, ...]
    thresholds: dict[str, str]

    def as_json(self) -> dict[str, Any]:
        return {
            "months": [f"{m:%Y-%m}" for m in self.months],
            "driver": self.driver,
            "energy": [str(dec(e)) for e in self.energy],
            "drivers": None if self.drivers is None else [str(dec(x)) for x in self.drivers],
            "unit": self.unit,
            "model": f"energy = {dec(self.intercept)} + {dec(self.slope)} x {self.driver}",
            "intercept": str(dec(self.intercept)),
            "slope": str(dec(self.slope)),
            "r2": None if self.r2 is None else str(dec(self.r2)),
            "cv_rmse": str(self.cv_rmse),
            "nmbe": str(dec(self.nmbe)),
            "accepted": self.accepted,
            "failures": list(self.failures),
            "thresholds": self.thresholds,
        }


@dataclass(frozen=True)
class Reductions:
    """A project's measured reductions over a period, month by month."""

    project_id: str
    method: str
    period: str
    as_of: datetime
    months: tuple[MonthReduction, ...]
    expected: Fraction  # the declared annual reduction, prorated to the months shown
    baseline: Baseline | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def total(self) -> Fraction:
        """tCO2 over the months that could be computed."""
        return sum((m.reduction for m in self.months if m.reduction is not None), Fraction(0))

    @property
    def complete(self) -> bool:
        return all(m.reduction is not None for m in self.months)

    def as_json(self) -> dict[str, Any]:
        return {
            "project_id": self.project_id,
            "method": self.method,
            "period": self.period,
            "as_of": self.as_of.isoformat(),
            "total_tco2": str(dec(self.total)),
            "expected_tco2": str(dec(self.expected)),
            "complete": self.complete,
            "months": [m.as_json() for m in self.months],
            "baseline": None if self.baseline is None else self.baseline.as_json(),
            "notes": list(self.notes),
        }
