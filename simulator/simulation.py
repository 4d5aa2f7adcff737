"""The simulation engine: the city's gateways tick by tick, with seeded field faults.

:class:`Simulation` advances the registers that :mod:`.profiles` defines as a function of absolute
time, turns them into wire-format readings per gateway and numbers the batches. Faults
(:class:`Fault`) are drawn from the same seeded streams as the load, so a faulty run is as
reproducible as a clean one, and they change what is *reported*, never what flowed:
:func:`.expected.expected_consumption` stays exact whatever they did.

Nothing here does I/O: :mod:`.publisher` sends what :meth:`Simulation.step` returns.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache

from carbonledger.tz import SHANGHAI
from carbonledger.wire import Quality, Reading

from .city import CEMS_QUANTITIES, City, Meter, stream
from .profiles import (
    HOUR,
    MG_PER_M3_PER_PERCENT_CO2,
    HourDraws,
    day_start,
    hour_draws,
    local_day,
    minute_of_day,
    stack_values,
    steps_until,
)


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
        """The fault rates times ``factor`` (capped at 1), so a short demo shows some faults."""
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
        return datetime.fromtimestamp(self._next, SHANGHAI)

    def step(self) -> list[OutgoingBatch]:
        """Advance one interval and return the batches to publish now, in publication order."""
        t = self._next
        self._next += self.interval
        when = datetime.fromtimestamp(t, SHANGHAI)
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
        minute = minute_of_day(t) - meter.stack.calibration_minute
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
        when = datetime.fromtimestamp(t, SHANGHAI)
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
        sent = datetime.fromtimestamp(due, SHANGHAI) + timedelta(seconds=1)
        return OutgoingBatch(
            batch.enterprise, batch.gateway, batch.seq, batch.readings, sent, late=True
        )

    def _event(self, fault: Fault, t: int, subject: str, detail: str) -> None:
        self.events.append(FaultEvent(fault, datetime.fromtimestamp(t, SHANGHAI), subject, detail))
