"""Everything a project's reductions are computed from, as plain frozen objects.

:mod:`projects._read` fills them from PostgreSQL in a few bulk queries; :mod:`projects._methods`
computes with no connection. A test builds them by hand.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from fractions import Fraction

from accounts.ledger import Factor
from projects._model import MeterRole, Project


@dataclass(frozen=True)
class ProjectMeter:
    id: str
    role: MeterRole
    carrier: str
    unit: str


@dataclass(frozen=True)
class MeterMonth:
    """One meter's booked activity in one local month (sums of its 15-minute rollups)."""

    meter_id: str
    month: date
    activity: Fraction  # in the meter's unit
    covered_ms: int
    estimated_ms: int


@dataclass(frozen=True)
class ProjectInputs:
    project: Project
    meters: Sequence[ProjectMeter]
    activity: Sequence[MeterMonth]  # baseline months and the months asked for
    drivers: Mapping[date, Fraction]
    factors: Sequence[Factor]
    as_of: datetime

    def of_meter(self, month: date, meter_id: str) -> Fraction:
        return sum(
            (a.activity for a in self.activity if a.month == month and a.meter_id == meter_id),
            Fraction(0),
        )

    def total(
        self, month: date, role: MeterRole | None = None, carrier: str | None = None
    ) -> Fraction:
        """Activity of the project's meters of ``role`` (and ``carrier``) in ``month``."""
        ids = {
            m.id
            for m in self.meters
            if (role is None or m.role is role) and (carrier is None or m.carrier == carrier)
        }
        return sum(
            (a.activity for a in self.activity if a.month == month and a.meter_id in ids),
            Fraction(0),
        )
