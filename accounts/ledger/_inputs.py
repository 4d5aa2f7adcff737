"""Everything an account is computed from, as plain frozen objects (no database).

:mod:`accounts.ledger._read` fills them from PostgreSQL; :mod:`accounts.ledger._compute` turns
them into an :class:`~accounts.ledger._model.Account`. A test builds them by hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction

from accounts.ledger._model import EnterpriseInfo
from accounts.ledger._policy import MeasuredNcv


@dataclass(frozen=True)
class MonthActivity:
    """One (meter, quantity, role) in one local month: sums of its 15-minute rollups."""

    meter_id: str
    carrier: str
    quantity: str
    role: str
    source: str
    scope: int | None
    sign: int
    unit: str
    scale: int
    month: date
    activity_fp: int
    covered_ms: int
    estimated_ms: int
    buckets: int
    last_bucket: datetime

    @property
    def activity(self) -> Fraction:
        return Fraction(self.activity_fp, 10**self.scale)


@dataclass(frozen=True)
class Enterprise:
    info: EnterpriseInfo
    meters: Mapping[str, str]  # meter id -> the quantity it is booked by (every registered meter)


@dataclass(frozen=True)
class GreenPurchase:
    """The green-power (绿电) kWh an enterprise bought for one month, with the certificates."""

    month: date
    kwh: Decimal
    certificates: str  # "a, b" in certificate order


@dataclass(frozen=True)
class EconomicRow:
    """A row of ``economic_data``: a month's or a year's reported figures."""

    kind: str  # month | year
    start: date
    value_added: Decimal | None
    revenue: Decimal | None
    output_quantity: Decimal | None
    output_unit: str | None


@dataclass(frozen=True)
class AccountInputs:
    """What one enterprise's account for one period is computed from.

    ``activity`` holds the months of the period; ``green_power`` and ``economics`` may hold more
    (the computation picks the period's rows), ``quality_events`` counts the period's events.
    """

    enterprise: Enterprise
    activity: tuple[MonthActivity, ...]
    measured_ncv: tuple[MeasuredNcv, ...] = ()
    green_power: tuple[GreenPurchase, ...] = ()
    economics: tuple[EconomicRow, ...] = ()
    quality_events: Mapping[str, int] = field(default_factory=dict)
