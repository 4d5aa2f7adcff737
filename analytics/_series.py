"""From database rows to kernel arrays and back: quantities, scales, meter parameters.

Readings arrive as float8; registers are converted once to fixed point (1e-4 register units),
power to whole watts, so everything after this module is integer arithmetic (docs/analytics.md
has the range analysis). A :class:`Window` is the unit of work: a range of 15-minute buckets of
one (meter, rolled-up quantity), recomputed as a whole from the readings around it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import numpy as np
import numpy.typing as npt

from analytics import _kernels as k
from carbonledger.config import AggregateSettings

VALUE_SCALE = 10_000  # registers and activity: 1e-4 units
CO2_SCALE = 1_000_000  # CO2 mass: grams (1e-6 t)
BUCKET_MS = k.BUCKET_MS
I64 = npt.NDArray[np.int64]


class Kind(Enum):
    """How a stored quantity becomes a rolled-up one."""

    CUMULATIVE = "cumulative"  # register deltas x multiplier
    POWER = "power"  # kW integrated to kWh
    CEMS = "cems"  # HJ 75 flow x concentration integrated to tCO2


CUMULATIVE = frozenset(
    {"energy_import", "energy_export", "energy_generated", "gas_volume", "steam_mass", "heat",
     "diesel_mass"}
)  # fmt: skip
CEMS_INPUTS = (
    "co2_concentration",
    "flue_gas_flow",
    "flue_gas_temperature",
    "flue_gas_pressure",
    "flue_gas_moisture",
)
CO2_MASS = "co2_mass"
SCALES = {**dict.fromkeys(CUMULATIVE, 4), "active_power": 4, CO2_MASS: 6}


def rolled_up(quantity: str) -> tuple[str, Kind] | None:
    """The rolled-up quantity a stored quantity feeds, or None (O2 feeds nothing)."""
    if quantity in CUMULATIVE:
        return quantity, Kind.CUMULATIVE
    if quantity == "active_power":
        return quantity, Kind.POWER
    if quantity in CEMS_INPUTS:
        return CO2_MASS, Kind.CEMS
    return None


@dataclass(frozen=True)
class MeterParams:
    """A meter's registry values in kernel units."""

    enterprise_code: str
    mult_num: int
    mult_den: int
    register_max_fp: int  # 0: unknown (no rollover possible)
    cap_per_h_fp: int  # register units x 1e4 per hour

    @classmethod
    def from_registry(
        cls,
        *,
        enterprise_code: str,
        carrier: str,
        multiplier: Decimal,
        register_max: Decimal | None,
        max_rate: Decimal | None,
        settings: AggregateSettings,
    ) -> MeterParams:
        """Registry numerics to integers; a multiplier needs at most 3 decimals (kept exact)."""
        exponent = multiplier.normalize().as_tuple().exponent
        places = max(0, -exponent) if isinstance(exponent, int) else 0
        if places > 3:
            raise ValueError(f"multiplier {multiplier} has more than 3 decimals")
        den = 10**places
        rate = (
            max_rate if max_rate is not None else Decimal(str(settings.max_rate.get(carrier, 1e9)))
        )
        return cls(
            enterprise_code=enterprise_code.strip(),
            mult_num=int(multiplier * den),
            mult_den=den,
            register_max_fp=int(register_max * VALUE_SCALE) if register_max is not None else 0,
            cap_per_h_fp=int(rate * VALUE_SCALE),
        )


@dataclass
class Window:
    """Buckets [lo_ms, hi_ms) of one (meter, rolled-up quantity), filled by :func:`compute`.

    A window is *recomputed* (its buckets replaced by the booking of the readings around it, up
    to ``upto``) or, when ``after`` is set, *appended*: only the readings after ``after`` are new,
    and their intervals (from the last usable reading at or before ``after``, loaded first and
    then ``carried``) are added to the buckets as they stand. ``frontier``: what the series'
    frontier becomes once the window is written (None: unchanged).
    """

    meter_id: str
    quantity: str
    kind: Kind
    lo_ms: int
    hi_ms: int
    upto: datetime | None = None  # readings after this are not taken in (None: all)
    after: datetime | None = None  # append: the readings after this are the new ones
    frontier: datetime | None = None
    carried: bool = False  # append: times[0] is the booked reading the first new interval starts at
    times: list[int] = field(default_factory=list)
    # one float (or 1-tuple) per reading; CEMS: a 5-tuple per instant
    values: list[Any] = field(default_factory=list)
    qualities: list[int] = field(default_factory=list)
    received: list[int] = field(default_factory=list)

    @property
    def buckets(self) -> int:
        return (self.hi_ms - self.lo_ms) // BUCKET_MS

    @property
    def appends(self) -> bool:
        return self.after is not None


@dataclass(frozen=True)
class RollupRow:
    bucket_ms: int
    enterprise_code: str
    meter_id: str
    quantity: str
    activity_fp: int
    covered_ms: int
    estimated_ms: int
    good: int
    estimated: int
    bad: int


@dataclass(frozen=True)
class EventRow:
    meter_id: str
    quantity: str
    kind: str
    time_ms: int
    enterprise_code: str
    amount: Decimal
    detail: str


QUALITY_CODES = {"good": k.GOOD, "estimated": k.ESTIMATED, "bad": k.BAD}


def floor_bucket(ms: int) -> int:
    return ms - ms % BUCKET_MS


@dataclass
class _Out:
    """Kernel output arrays for a set of windows, laid out by bucket offsets."""

    offsets: I64
    bucket_lo: I64
    bucket_off: I64
    activity: I64
    covered: I64
    est_ms: I64
    counts: I64

    @classmethod
    def for_windows(cls, windows: Sequence[Window]) -> _Out:
        sizes = [len(w.times) for w in windows]
        nb = [w.buckets for w in windows]
        bucket_off = np.zeros(len(windows) + 1, np.int64)
        np.cumsum(nb, out=bucket_off[1:])
        offsets = np.zeros(len(windows) + 1, np.int64)
        np.cumsum(sizes, out=offsets[1:])
        total = int(bucket_off[-1])
        return cls(
            offsets=offsets,
            bucket_lo=np.array([w.lo_ms for w in windows], np.int64),
            bucket_off=bucket_off,
            activity=np.zeros(total, np.int64),
            covered=np.zeros(total, np.int64),
            est_ms=np.zeros(total, np.int64),
            counts=np.zeros(total * 3, np.int64),
        )


def _first_column(w: Window) -> npt.NDArray[np.float64]:
    values = np.asarray(w.values, np.float64)
    return values.reshape(len(w.times), -1)[:, 0]


def _concat(windows: Sequence[Window], attr: str) -> I64:
    parts = [np.asarray(getattr(w, attr), np.int64) for w in windows]
    return np.concatenate(parts) if parts else np.zeros(0, np.int64)


def compute(
    windows: Sequence[Window], meters: Mapping[str, MeterParams], settings: AggregateSettings
) -> tuple[list[RollupRow], list[EventRow]]:
    """Run the kernels over the windows; rows for every bucket with coverage or readings."""
    rows: list[RollupRow] = []
    events: list[EventRow] = []
    for kind in Kind:
        group = [w for w in windows if w.kind is kind and w.buckets > 0]
        if not group:
            continue
        out = _Out.for_windows(group)
        if kind is Kind.CUMULATIVE:
            events += _run_cumulative(group, meters, settings, out)
        elif kind is Kind.POWER:
            _run_power(group, settings, out)
        else:
            _run_cems(group, settings, out)
        rows += _rows(group, meters, out)
    return rows, events


def _run_cumulative(
    group: Sequence[Window],
    meters: Mapping[str, MeterParams],
    settings: AggregateSettings,
    out: _Out,
) -> list[EventRow]:
    params = [meters[w.meter_id] for w in group]
    values = np.concatenate([_first_column(w) for w in group])
    fixed = np.rint(values * VALUE_SCALE).astype(np.int64)
    arrays = (
        out.offsets,
        _concat(group, "times"),
        fixed,
        _concat(group, "qualities"),
        _concat(group, "received"),
        np.array([p.mult_num for p in params], np.int64),
        np.array([p.mult_den for p in params], np.int64),
        np.array([p.register_max_fp for p in params], np.int64),
        np.array([p.cap_per_h_fp for p in params], np.int64),
        out.bucket_lo,
        out.bucket_off,
        settings.offline_after_s * 1000,
        settings.clock_skew_s * 1000,
        out.activity,
        out.covered,
        out.est_ms,
        out.counts,
    )
    size = 3 * len(fixed) + 16  # at most clock skew + (reset|spike|negative) + offline
    ev = tuple(np.zeros(size, np.int64) for _ in range(4))
    n = int(k.rollup_cumulative(*arrays, *ev))
    return _events(group, params, ev, n)


def _events(
    group: Sequence[Window], params: Sequence[MeterParams], ev: tuple[I64, ...], n: int
) -> list[EventRow]:
    """Events owned by their window: time in [lo, hi) of its buckets."""
    out = []
    series, times, kinds, amounts = (a[:n].tolist() for a in ev)
    for s, t, kind, amount in zip(series, times, kinds, amounts, strict=True):
        w = group[s]
        if not w.lo_ms <= t < w.hi_ms or (w.carried and t <= w.times[0]):
            continue  # another window's, or the carried reading's (booked already)
        name = k.EVENT_NAMES[kind]
        if kind in (k.EV_OFFLINE, k.EV_STUCK, k.EV_CLOCK_SKEW):
            value = Decimal(amount) / 1000
            detail = f"{name}: {value} s"
        else:
            value = Decimal(amount) / VALUE_SCALE
            detail = f"{name}: register {value:+}" if kind != k.EV_RESET else f"reset to {value}"
        out.append(EventRow(w.meter_id, w.quantity, name, t, params[s].enterprise_code, value,
                            detail))  # fmt: skip
    return out


def _run_power(group: Sequence[Window], settings: AggregateSettings, out: _Out) -> None:
    values = np.concatenate([_first_column(w) for w in group])
    k.rollup_power(
        out.offsets,
        _concat(group, "times"),
        np.rint(values * 1000).astype(np.int64),
        _concat(group, "qualities"),
        out.bucket_lo,
        out.bucket_off,
        settings.instantaneous_max_gap_s * 1000,
        out.activity,
        out.covered,
        out.est_ms,
        out.counts,
    )


def _run_cems(group: Sequence[Window], settings: AggregateSettings, out: _Out) -> None:
    samples = np.concatenate([np.asarray(w.values, np.float64).reshape(-1, 5) for w in group])
    qualities = _concat(group, "qualities")
    usable = (qualities != k.BAD) & ~np.isnan(samples).any(axis=1)
    conc, flow, temp, pressure, moisture = (np.ascontiguousarray(samples[:, i]) for i in range(5))
    k.rollup_cems(
        out.offsets,
        _concat(group, "times"),
        conc,
        flow,
        temp,
        pressure,
        moisture,
        usable,
        settings.atmospheric_pa,
        out.bucket_lo,
        out.bucket_off,
        settings.instantaneous_max_gap_s * 1000,
        out.activity,
        out.covered,
        out.est_ms,
    )
    # readings counted per bucket from the concentration's quality
    for s, w in enumerate(group):
        base = int(out.bucket_off[s])
        for t, q in zip(w.times, w.qualities, strict=True):
            b = (t - w.lo_ms) // BUCKET_MS
            if 0 <= b < w.buckets:
                out.counts[(base + b) * 3 + q] += 1


def _rows(group: Sequence[Window], meters: Mapping[str, MeterParams], out: _Out) -> list[RollupRow]:
    """One row per bucket with coverage or readings; of an appended window, the increments."""
    rows = []
    counts = out.counts.reshape(-1, 3)
    for s, w in enumerate(group):
        base = int(out.bucket_off[s])
        if w.carried:  # counted when it was new
            counts[base + (w.times[0] - w.lo_ms) // BUCKET_MS, w.qualities[0]] -= 1
        code = meters[w.meter_id].enterprise_code
        for b in range(w.buckets):
            i = base + b
            c = counts[i]
            if out.covered[i] == 0 and not c.any():
                continue
            rows.append(
                RollupRow(
                    w.lo_ms + b * BUCKET_MS,
                    code,
                    w.meter_id,
                    w.quantity,
                    int(out.activity[i]),
                    int(out.covered[i]),
                    int(out.est_ms[i]),
                    int(c[0]),
                    int(c[1]),
                    int(c[2]),
                )
            )
    return rows
