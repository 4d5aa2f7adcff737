"""Load profiles and the simulation that turns a :class:`~.city.City` into wire-format readings.

Registers are a deterministic function of absolute time, not of when a run started. Each meter's
consumption is drawn per local day (shift pattern, weekday, season, noise), apportioned to the
hours of the day and then to the ticks of each hour with integer arithmetic, so the sums are exact
(domain.md §1): the register at any instant is its value at the *anchor* plus the steps since.
Two consequences the rest of the platform relies on:

* re-running a window with the same seed and anchor publishes identical readings, so history can
  be replayed and a fast-forward followed by a live run joins up without a jump;
* :func:`expected_consumption` gives the exact consumption of a meter between two instants without
  replaying the readings, which is what the end-to-end accounting tests compare against.

Faults (:class:`Fault`) are drawn from the same seeded streams, so a faulty run is reproducible too.
Nothing here does I/O: :mod:`.publisher` sends what :meth:`Simulation.step` returns.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache

from carbonledger.wire import Quality, Reading

from .city import CEMS_QUANTITIES, City, Drive, Meter, Shift, Stack, stream

CST = timezone(timedelta(hours=8))  # Asia/Shanghai: UTC+8 all year, no DST
_OFFSET = 8 * 3600
DAY = 86_400
HOUR = 3_600

# Hour-of-day load factors at full production, local time.
_HOURLY: dict[Shift, tuple[float, ...]] = {
    Shift.DAY: (0.12,) * 7 + (0.5,) + (1.0,) * 4 + (0.6,) + (1.0,) * 4 + (0.55, 0.3) + (0.15,) * 5,
    Shift.TWO_SHIFT: (0.25,) * 6 + (1.0,) * 8 + (0.9,) + (1.0,) * 7 + (0.3,) * 2,
    Shift.CONTINUOUS: (0.93,) * 7 + (1.0,) * 17,
}
# Share of production kept on Saturday and Sunday (the idle base load always stays).
_WEEKEND: dict[Shift, tuple[float, float]] = {
    Shift.DAY: (0.3, 0.05),
    Shift.TWO_SHIFT: (0.7, 0.3),
    Shift.CONTINUOUS: (1.0, 0.97),
}
# Month factors: electricity peaks with summer air conditioning; heat with cold feed water; both dip
# in February for the Spring Festival. Nothing fancier: accounting, not load forecasting, is tested.
_SEASON_ELECTRICITY = (1.02, 0.85, 1.0, 1.0, 1.0, 1.03, 1.08, 1.08, 1.03, 1.0, 1.0, 1.02)
_SEASON_HEAT = (1.08, 0.88, 1.03, 1.0, 0.97, 0.95, 0.93, 0.93, 0.95, 0.98, 1.02, 1.06)
# PV yield in kWh per kWp per day in Lishui by month (peak sun hours x performance ratio 0.8).
_PV_YIELD = (2.0, 2.2, 2.4, 2.8, 3.0, 2.7, 3.6, 3.5, 3.0, 2.7, 2.3, 2.1)
_LATITUDE = math.radians(28.45)


class Fault(StrEnum):
    """Field faults the simulator can inject (``--faults``), each at a low, seeded rate."""

    OFFLINE = "offline"  # a meter stops reporting for a stretch; its register keeps counting
    RESET = "reset"  # a meter is replaced: its register restarts at 0
    DUPLICATE = "duplicate"  # a batch is published twice: same seq, same payload
    LATE = "late"  # a batch is held back and published after later batches


@dataclass(frozen=True, slots=True)
class FaultRates:
    """How often each fault happens when it is switched on."""

    offline_per_meter_hour: float = 0.002  # an outage starts (5 min to 4 h)
    reset_per_meter_day: float = 0.002  # a replacement, during working hours
    duplicate_per_batch: float = 0.001
    late_per_batch: float = 0.001
    late_max_ticks: int = 20  # a late batch is held 2..late_max_ticks ticks
    estimated_per_reading: float = 0.0005  # quality 'estimated' (not a fault: always on)

    def scaled(self, factor: float) -> FaultRates:
        return FaultRates(
            min(1.0, self.offline_per_meter_hour * factor),
            min(1.0, self.reset_per_meter_day * factor),
            min(1.0, self.duplicate_per_batch * factor),
            min(1.0, self.late_per_batch * factor),
            self.late_max_ticks,
            self.estimated_per_reading,
        )


@dataclass(frozen=True, slots=True)
class FaultEvent:
    """Something a fault did, for the log and for tests."""

    fault: Fault
    time: datetime
    subject: str  # meter id (offline, reset) or gateway id (duplicate, late)
    detail: str


@dataclass(frozen=True, slots=True)
class OutgoingBatch:
    """One MQTT message as a gateway sends it (:meth:`Simulation.step` gives them in order)."""

    enterprise: str
    gateway: str
    seq: int
    readings: tuple[Reading, ...]
    sent_at: datetime
    duplicate: bool = False  # a second publication of an earlier batch (same seq and payload)
    late: bool = False  # held back: published after batches with higher seq


# ---------------------------------------------------------------------------------------------
# Profiles: pure functions of the calendar.


def local_day(ts: int) -> int:
    """Days since 1970-01-01 in Asia/Shanghai for a Unix time."""
    return (ts + _OFFSET) // DAY


def day_start(day: int) -> int:
    """Unix time of 00:00 +08:00 on local day ``day``."""
    return day * DAY - _OFFSET


def load_factor(shift: Shift, day: int, hour: int) -> float:
    """Fraction of full-production load in local ``hour`` of local ``day`` for a shift pattern."""
    factors = _HOURLY[shift]
    weekday = date.fromordinal(day + 719_163).weekday()  # 719163 = date(1970, 1, 1).toordinal()
    if weekday < 5:
        return factors[hour]
    idle = min(factors)
    keep = _WEEKEND[shift][weekday - 5]
    return idle + (factors[hour] - idle) * keep


def season(carrier: str, month: int) -> float:
    if carrier == "electricity":
        return _SEASON_ELECTRICITY[month - 1]
    if carrier in ("natural_gas", "steam"):
        return _SEASON_HEAT[month - 1]
    return 1.0


@lru_cache(maxsize=512)
def solar_weights(day: int) -> tuple[float, ...]:
    """Relative PV output per local hour: sin(solar elevation) at the hour's middle, Lishui."""
    doy = date.fromordinal(day + 719_163).timetuple().tm_yday
    decl = math.radians(23.44) * math.sin(2 * math.pi * (284 + doy) / 365)
    weights = []
    for hour in range(24):
        omega = math.radians(15 * (hour + 0.5 - 12))
        sin_elev = math.sin(_LATITUDE) * math.sin(decl) + math.cos(_LATITUDE) * math.cos(
            decl
        ) * math.cos(omega)
        weights.append(max(0.0, sin_elev))
    return tuple(weights)


def _month(day: int) -> int:
    return date.fromordinal(day + 719_163).month


def _z(rng_values: Sequence[float]) -> float:
    """A roughly standard-normal draw from three uniforms (stable across Python versions)."""
    return (sum(rng_values) - 1.5) * 2.0


# ---------------------------------------------------------------------------------------------
# The register model: steps per day, per hour, per tick; all integers.


def day_steps(meter: Meter, seed: int, day: int) -> int:
    """Register steps (10**-decimals units, after the multiplier) counted on local ``day``."""
    rng = stream(seed, meter.id, "day", day)
    if meter.drive is Drive.SOLAR:
        cloud = (0.2 + rng.random() ** 0.7) / 0.788
        primary = meter.rate * _PV_YIELD[_month(day) - 1] * float(cloud)
    else:
        hours = sum(load_factor(meter.shift, day, h) for h in range(24))
        noise = max(0.5, 1.0 + 0.08 * _z([rng.random(), rng.random(), rng.random()]))
        primary = meter.rate * hours * season(meter.carrier, _month(day)) * noise
    return round(primary / meter.multiplier * float(10**meter.decimals))


@lru_cache(maxsize=4096)
def hour_steps(meter: Meter, seed: int, day: int) -> tuple[int, ...]:
    """``day_steps`` split over the 24 local hours by the profile, with hourly noise."""
    total = day_steps(meter, seed, day)
    rng = stream(seed, meter.id, "hours", day)
    if meter.drive is Drive.SOLAR:
        shape = solar_weights(day)
    else:
        shape = tuple(load_factor(meter.shift, day, h) for h in range(24))
    weights = [
        int(s * (1.0 + 0.1 * _z([rng.random(), rng.random(), rng.random()])) * 10_000)
        for s in shape
    ]
    return tuple(_apportion(total, [max(0, w) for w in weights]))


@dataclass(frozen=True, slots=True)
class HourDraws:
    """Everything drawn for one meter for one hour: tick split, quality flags, CEMS noise."""

    cumulative: tuple[int, ...]  # steps counted from the hour's start to tick j (0..n)
    weights: tuple[int, ...]  # tick weights, for instantaneous rates
    total_weight: int
    estimated: frozenset[int]  # ticks (1..n) whose reading is flagged 'estimated'
    noise: tuple[float, ...]  # per tick, in [-1, 1], for instantaneous values


def hour_draws(meter: Meter, seed: int, hour: int, interval: int, estimated_p: float) -> HourDraws:
    """The split of the hour ``hour`` (Unix hours) into ``3600 // interval`` ticks."""
    day = local_day(hour * HOUR)
    total = hour_steps(meter, seed, day)[(hour * HOUR + _OFFSET) % DAY // HOUR]
    n = HOUR // interval
    rng = stream(seed, meter.id, "ticks", hour, interval)
    weights = [1000 + int(300 * rng.random()) for _ in range(n)]
    estimated = frozenset(j for j in range(1, n + 1) if rng.random() < estimated_p)
    noise = tuple(2 * rng.random() - 1 for _ in range(n))
    increments = _apportion(total, weights)
    cumulative = [0]
    for inc in increments:
        cumulative.append(cumulative[-1] + inc)
    return HourDraws(tuple(cumulative), tuple(weights), sum(weights), estimated, noise)


def _apportion(total: int, weights: Sequence[int]) -> list[int]:
    """Split ``total`` into integers proportional to ``weights`` that sum to it exactly."""
    whole = sum(weights)
    if whole == 0:
        return [0] * (len(weights) - 1) + [total]
    parts = []
    done = running = 0
    for w in weights:
        running += w
        upto = total * running // whole
        parts.append(upto - done)
        done = upto
    return parts


def steps_until(meter: Meter, seed: int, ts: int, interval: int, anchor_day: int) -> int:
    """Signed register steps counted from the anchor day's 00:00 to the last tick at or before ts.

    The cost grows with the number of days between the anchor and ``ts``: one draw per day.
    """
    ts -= ts % interval
    day = local_day(ts)
    if day >= anchor_day:
        before = sum(day_steps(meter, seed, d) for d in range(anchor_day, day))
    else:
        before = -sum(day_steps(meter, seed, d) for d in range(day, anchor_day))
    into = ts - day_start(day)
    hours = hour_steps(meter, seed, day)
    within = sum(hours[: into // HOUR])
    if into % HOUR:
        hour = (ts - ts % HOUR) // HOUR
        within += hour_draws(meter, seed, hour, interval, 0.0).cumulative[into % HOUR // interval]
    return before + within


def expected_consumption(
    city: City, start: datetime, end: datetime, *, interval_s: int = 15
) -> dict[str, Decimal]:
    """Exact primary consumption per cumulative meter between the ticks at ``start`` and ``end``.

    This is what a correct ingest books from the readings at those two instants (the sum of the
    register increments in between, times the multiplier, in kWh / Nm3 / t), whatever rollovers,
    resets, outages, duplicates or late batches happened in between: faults change what is
    reported, never what flowed. Instants are rounded down to the tick grid.
    """
    a, b = int(start.timestamp()), int(end.timestamp())
    anchor = local_day(a)
    result: dict[str, Decimal] = {}
    for meter in city.meters:
        if not meter.cumulative:
            continue
        steps = steps_until(meter, city.seed, b, interval_s, anchor) - steps_until(
            meter, city.seed, a, interval_s, anchor
        )
        result[meter.id] = Decimal(steps).scaleb(-meter.decimals) * meter.multiplier
    return result


def register_delta(previous: Decimal, current: Decimal, register_max: Decimal) -> Decimal:
    """Register units counted between two readings, across at most one rollover.

    The register reads ``register_max`` as 0 (the registry's definition), so a drop is
    ``current + register_max - previous``. A drop to below a tenth of the previous value far from
    the top is a reset (replacement from 0): the new register's value is what it counted.
    """
    if current >= previous:
        return current - previous
    if previous > register_max * Decimal("0.8"):
        return current + register_max - previous
    return current


def consumption_from_readings(meter: Meter, values: Iterable[float | Decimal]) -> Decimal:
    """Primary consumption from a meter's successive register values (in time order)."""
    assert meter.register_max is not None  # noqa: S101 - only cumulative meters have registers
    total = Decimal(0)
    previous: Decimal | None = None
    for raw in values:
        value = Decimal(str(raw)) if isinstance(raw, float) else raw
        if previous is not None:
            total += register_delta(previous, value, meter.register_max)
        previous = value
    return total * meter.multiplier


# ---------------------------------------------------------------------------------------------
# CEMS: instantaneous values consistent with what burns behind the stack (HJ 75-2017 terms).

ATMOSPHERE_PA = 101_325.0  # assumed ambient pressure Ba: ingest can recompute Qsn exactly
MG_PER_M3_PER_PERCENT_CO2 = 19_647.0  # 1 % v/v CO2 = 44/22.4 g/L x 10^4 (domain.md §3.4)


def stack_values(stack: Stack, driver_rate: float, nominal: float, noise: float) -> list[float]:
    """The six CEMS quantities (``CEMS_QUANTITIES`` order) for a stack at a firing rate.

    The CO2 mass rate is the driver's rate times ``co2_per_unit``; O2 rises as the burner turns
    down; the concentration follows from O2 (CO2 = co2_max x (20.9 - O2) / 20.9), the dry standard
    flow Qsn from mass / concentration, and the reported working flow Qs from Qsn by the inverse of
    HJ 75's Qsn = Qs x 273/(273+ts) x (Ba+Ps)/101325 x (1-Xsw). Recomputing the mass rate from the
    reported values (Ba = 101325 Pa) gives back the fuel's CO2.
    """
    load = max(0.0, driver_rate / nominal) if nominal > 0 else 0.0
    pressure = stack.pressure * (0.5 + 0.5 * min(load, 1.2)) + 5 * noise
    moisture = stack.moisture + 0.3 * noise
    if load < 0.02:  # burner off: ambient air drawn through a warm stack
        temperature = 35.0 + 3 * noise
        qsn = nominal * stack.co2_per_unit / 0.2 * 0.01 + 1.0
        return [
            800.0 + 20 * noise,
            20.6,
            _working_flow(qsn, temperature, pressure, moisture),
            temperature,
            pressure,
            moisture,
        ]
    o2 = stack.o2 + (20.9 - stack.o2) * 0.6 * max(0.0, 0.3 - load) / 0.3 + 0.1 * noise
    concentration = stack.co2_max * (20.9 - o2) / 20.9 * MG_PER_M3_PER_PERCENT_CO2
    co2_kg_h = driver_rate * stack.co2_per_unit
    qsn = co2_kg_h * 1e6 / concentration
    temperature = stack.temperature * (0.85 + 0.15 * min(load, 1.2)) + noise
    return [
        concentration,
        o2,
        _working_flow(qsn, temperature, pressure, moisture),
        temperature,
        pressure,
        moisture,
    ]


def _working_flow(qsn: float, temperature: float, pressure: float, moisture: float) -> float:
    factor = 273.0 / (273.0 + temperature) * (ATMOSPHERE_PA + pressure) / 101_325.0
    return qsn / (factor * (1.0 - moisture / 100.0))


# ---------------------------------------------------------------------------------------------
# The simulation: advances tick by tick and yields what the gateways publish.


@lru_cache(maxsize=1 << 16)
def _outage(meter_id: str, seed: int, hour: int, interval: int, p: float) -> tuple[int, int] | None:
    """The outage [start, end) starting in Unix hour ``hour``, if one does: 5 min to 4 h, mostly
    short (communication drop-outs), occasionally long (a broken converter waiting for a visit)."""
    rng = stream(seed, meter_id, "offline", hour)
    if rng.random() >= p:
        return None
    start = hour * HOUR + int(rng.random() * HOUR / interval) * interval
    minutes = 5 + 235 * rng.random() ** 3
    return start, start + math.ceil(minutes * 60 / interval) * interval


@dataclass(slots=True)
class _MeterState:
    meter: Meter
    steps: int = 0  # register value in steps, modulo register_max
    hour: int = -1
    draws: HourDraws | None = None
    day: int = -1
    reset_at: int | None = None
    offline: bool = False
    driver: _MeterState | None = None  # CEMS: the meter whose rate fires the stack
    modulus: int = 0  # register_max in steps
    scale: int = 1  # 10 ** decimals
    outage_hour: int = -1
    outages: list[tuple[int, int]] = field(default_factory=list)


@dataclass(slots=True)
class _GatewayState:
    enterprise: str
    gateway: str
    meters: list[_MeterState]
    seq: int
    hour: int = -1
    draws: list[tuple[float, float, int, int]] = field(default_factory=list)


class Simulation:
    """The city's gateways, tick by tick, from ``start`` (rounded up to the tick grid).

    Registers at ``anchor`` (default: 00:00 +08:00 of the start day) are the meters' ``initial``
    values; pin ``anchor`` to the same instant across runs to get the same register values (and
    so identical, de-duplicable readings) for the same instants. Sequence numbers start at the
    first tick's index on the grid (Unix time // interval) and grow by one per batch, so they also
    increase across consecutive runs.
    """

    def __init__(
        self,
        city: City,
        start: datetime,
        *,
        interval_s: int = 15,
        faults: Iterable[Fault] = (),
        rates: FaultRates | None = None,
        anchor: datetime | None = None,
    ) -> None:
        if interval_s < 1 or HOUR % interval_s:
            raise ValueError(f"interval {interval_s} s must divide an hour (1, 5, 15, 60, ...)")
        if start.utcoffset() is None:
            raise ValueError("start needs a UTC offset")
        self.city = city
        self.seed = city.seed
        self.interval = interval_s
        self.faults = frozenset(faults)
        self.rates = rates or FaultRates()
        first = -(-int(start.timestamp()) // interval_s) * interval_s
        self._anchor_day = local_day(int((anchor or start).timestamp()))
        self._next = first
        self._order = 0
        self._pending: list[tuple[int, int, OutgoingBatch]] = []
        self.events: deque[FaultEvent] = deque(maxlen=100_000)
        states = {m.id: _MeterState(m, scale=10**m.decimals) for m in city.meters}
        for state in states.values():
            if state.meter.stack is not None:
                state.driver = states[state.meter.stack.driver]
            else:
                state.modulus = state.meter.register_counts
                state.steps = self._register_at(state.meter, first - interval_s)
                state.offline = self._offline(state.meter, first - interval_s)
        self._gateways = [
            _GatewayState(
                gw.enterprise_code,
                gw.id,
                [states[m.id] for m in city.meters if m.gateway_id == gw.id],
                first // interval_s,
            )
            for gw in city.gateways
        ]

    @property
    def next_time(self) -> datetime:
        """The instant of the next tick :meth:`step` will produce."""
        return datetime.fromtimestamp(self._next, CST)

    def step(self) -> list[OutgoingBatch]:
        """Advance one interval and return the batches to publish now, in publication order."""
        t = self._next
        self._next += self.interval
        when = datetime.fromtimestamp(t, CST)
        hour = (t - 1) // HOUR  # the interval (t - interval, t] lies in this hour
        j = (t - hour * HOUR) // self.interval
        out: list[OutgoingBatch] = []
        for gw in self._gateways:
            readings: list[Reading] = []
            for state in gw.meters:
                if state.meter.stack is None:
                    self._advance(state, t, hour, j)
                elif state.hour != hour:
                    state.hour, state.draws = hour, self._hour_draws(state.meter, hour)
                if self._reports(state, t):
                    self._read(state, t, j, when, readings)
            if readings:
                self._emit(gw, t, readings, out)
        self._release(t, out)
        return out

    def run(self, end: datetime) -> Iterator[list[OutgoingBatch]]:
        """Step through every tick up to and including ``end``."""
        stop = int(end.timestamp())
        while self._next <= stop:
            yield self.step()

    def drain(self) -> list[OutgoingBatch]:
        """Late batches and delayed duplicates still held back, for the end of a run."""
        out: list[OutgoingBatch] = []
        while self._pending:
            due, _, batch = heapq.heappop(self._pending)
            out.append(self._released(batch, due))
        return out

    # -- registers ------------------------------------------------------------------------------

    def _register_at(self, meter: Meter, ts: int) -> int:
        """Register steps at tick ``ts``: from the anchor's initial value or the last reset."""
        steps = steps_until(meter, self.seed, ts, self.interval, self._anchor_day)
        reset = self._last_reset(meter, ts)
        if reset is not None:
            steps -= steps_until(
                meter, self.seed, reset - self.interval, self.interval, self._anchor_day
            )
        else:
            steps += int(meter.initial.scaleb(meter.decimals))
        return steps % meter.register_counts

    def _last_reset(self, meter: Meter, ts: int) -> int | None:
        for day in range(local_day(ts), self._anchor_day - 1, -1):
            reset = self._reset_tick(meter, day)
            if reset is not None and reset <= ts:
                return reset
        return None

    def _reset_tick(self, meter: Meter, day: int) -> int | None:
        """The tick of a replacement on local ``day`` (09:00-16:00), if there is one.

        Meters that start near the top of their register are never replaced, so that a drop seen
        by ingest is unambiguous: from near the top it is a rollover, from elsewhere a reset.
        """
        if Fault.RESET not in self.faults or meter.rollover_prone or day < self._anchor_day:
            return None
        rng = stream(self.seed, meter.id, "reset", day)
        if rng.random() >= self.rates.reset_per_meter_day:
            return None
        tick = day_start(day) + 9 * HOUR + int(rng.random() * 7 * HOUR)
        tick += self.interval - tick % self.interval
        return None if self._offline(meter, tick) else tick

    def _offline(self, meter: Meter, ts: int) -> bool:
        if Fault.OFFLINE not in self.faults:
            return False
        p = self.rates.offline_per_meter_hour
        for hour in range(ts // HOUR - 4, ts // HOUR + 1):
            outage = _outage(meter.id, self.seed, hour, self.interval, p)
            if outage is not None and outage[0] <= ts < outage[1]:
                return True
        return False

    def _hour_draws(self, meter: Meter, hour: int) -> HourDraws:
        return hour_draws(meter, self.seed, hour, self.interval, self.rates.estimated_per_reading)

    def _advance(self, state: _MeterState, t: int, hour: int, j: int) -> None:
        if state.hour != hour:
            state.hour, state.draws = hour, self._hour_draws(state.meter, hour)
            day = local_day(hour * HOUR)
            if day != state.day:
                state.day, state.reset_at = day, self._reset_tick(state.meter, day)
        assert state.draws is not None  # noqa: S101 - set just above
        if t == state.reset_at:
            old = Decimal(state.steps).scaleb(-state.meter.decimals)
            state.steps = 0
            self._event(Fault.RESET, t, state.meter.id, f"register {old} replaced, restarts at 0")
        counted = state.draws.cumulative[j] - state.draws.cumulative[j - 1]
        state.steps = (state.steps + counted) % state.modulus

    def _reports(self, state: _MeterState, t: int) -> bool:
        if Fault.OFFLINE not in self.faults:
            return True
        if state.outage_hour != t // HOUR:  # the outages that may cover this hour's ticks
            state.outage_hour = t // HOUR
            p, meter_id = self.rates.offline_per_meter_hour, state.meter.id
            state.outages = [
                o
                for h in range(t // HOUR - 4, t // HOUR + 1)
                if (o := _outage(meter_id, self.seed, h, self.interval, p)) is not None
            ]
        offline = any(start <= t < end for start, end in state.outages)
        if offline != state.offline:
            state.offline = offline
            self._event(Fault.OFFLINE, t, state.meter.id, "stops reporting" if offline else "back")
        return not offline

    # -- readings and batches -------------------------------------------------------------------

    def _read(self, state: _MeterState, t: int, j: int, when: datetime, out: list[Reading]) -> None:
        meter, draws = state.meter, state.draws
        assert draws is not None  # noqa: S101 - _advance ran first
        if meter.stack is None:
            quality = Quality.ESTIMATED if j in draws.estimated else Quality.GOOD
            value = state.steps / state.scale
            out.append(Reading(meter.id, meter.quantity, when, value, quality))
            return
        driver = state.driver
        assert driver is not None and driver.draws is not None  # noqa: S101
        dd = driver.draws
        steps_per_hour = dd.cumulative[-1] * dd.weights[j - 1] / dd.total_weight * len(dd.weights)
        rate = steps_per_hour * driver.meter.multiplier / 10**driver.meter.decimals
        values = stack_values(meter.stack, rate, driver.meter.rate, draws.noise[j - 1])
        minute = (t + _OFFSET) % DAY // 60 - meter.stack.calibration_minute
        calibrating = 0 <= minute < 15
        if calibrating:  # zero gas, then span gas at 60 % of the range
            values[0] = 0.0 if minute < 7 else meter.stack.co2_max * 0.6 * MG_PER_M3_PER_PERCENT_CO2
        for index, (quantity, value) in enumerate(zip(CEMS_QUANTITIES, values, strict=True)):
            bad = calibrating and index < 2
            out.append(
                Reading(
                    meter.id, quantity, when, round(value, 2), Quality.BAD if bad else Quality.GOOD
                )
            )

    def _gateway_draws(self, gw: _GatewayState, hour: int) -> None:
        rng = stream(self.seed, gw.gateway, "batches", hour, self.interval)
        late_max = max(2, self.rates.late_max_ticks)
        gw.hour = hour
        draws = []
        for _ in range(HOUR // self.interval):
            late, dup = rng.random(), rng.random()
            draws.append((late, dup, 2 + int(rng.random() * (late_max - 1)), int(rng.random() * 3)))
        gw.draws = draws

    def _emit(
        self, gw: _GatewayState, t: int, readings: list[Reading], out: list[OutgoingBatch]
    ) -> None:
        """Number the gateway's batch and publish, hold back or repeat it as the faults say."""
        when = datetime.fromtimestamp(t, CST)
        batch = OutgoingBatch(
            gw.enterprise, gw.gateway, gw.seq, tuple(readings), when + timedelta(seconds=1)
        )
        gw.seq += 1
        if not self.faults & {Fault.LATE, Fault.DUPLICATE}:
            out.append(batch)
            return
        hour = (t - 1) // HOUR
        if gw.hour != hour:
            self._gateway_draws(gw, hour)
        late_u, dup_u, hold, delay = gw.draws[(t - hour * HOUR) // self.interval - 1]
        if Fault.LATE in self.faults and late_u < self.rates.late_per_batch:
            self._hold(t + hold * self.interval, batch)
            self._event(Fault.LATE, t, gw.gateway, f"seq {batch.seq} held {hold} ticks")
            return
        out.append(batch)
        if Fault.DUPLICATE in self.faults and dup_u < self.rates.duplicate_per_batch:
            copy = OutgoingBatch(
                batch.enterprise,
                batch.gateway,
                batch.seq,
                batch.readings,
                batch.sent_at,
                duplicate=True,
            )
            if delay == 0:
                out.append(copy)
            else:
                self._hold(t + delay * self.interval, copy)
            self._event(Fault.DUPLICATE, t, gw.gateway, f"seq {batch.seq} again after {delay}")

    def _hold(self, due: int, batch: OutgoingBatch) -> None:
        self._order += 1
        heapq.heappush(self._pending, (due, self._order, batch))

    def _release(self, t: int, out: list[OutgoingBatch]) -> None:
        while self._pending and self._pending[0][0] <= t:
            due, _, batch = heapq.heappop(self._pending)
            out.append(self._released(batch, due))

    @staticmethod
    def _released(batch: OutgoingBatch, due: int) -> OutgoingBatch:
        if batch.duplicate:
            return batch  # a repeat carries the original payload byte for byte
        sent = datetime.fromtimestamp(due, CST) + timedelta(seconds=1)
        return OutgoingBatch(
            batch.enterprise, batch.gateway, batch.seq, batch.readings, sent, late=True
        )

    def _event(self, fault: Fault, t: int, subject: str, detail: str) -> None:
        self.events.append(FaultEvent(fault, datetime.fromtimestamp(t, CST), subject, detail))
