"""The city simulator as a field driver: :class:`simulator.Simulation` behind ``run(emit)``.

A small adapter, not a copy: the simulation computes every register and CEMS value; this module
picks the meters the gateway config names (one enterprise, an explicit list, or the whole city),
paces the ticks (``live``: in real time times ``speed``; ``fast``: as fast as the outbox takes
them, over ``[start, end]``) and emits each tick's readings. Batching and sequence numbers are
the agent's job, so the simulation's own batches, seqs and batch-level faults are not used.

Readings are a function of (seed, anchor, instant), so a test can recompute exactly what a run
emitted (:func:`expected_readings`).
"""

from __future__ import annotations

import asyncio
import enum
import functools
import logging
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from carbonledger.tz import SHANGHAI
from carbonledger.wire import Reading
from edge.drivers import Emit
from simulator import City, Simulation, build_city

log = logging.getLogger(__name__)


class Mode(enum.StrEnum):
    LIVE = "live"  # one tick per interval / speed of wall-clock time, from start (default now)
    FAST = "fast"  # every tick in [start, end] as fast as the outbox takes them, then finish


class Config(BaseModel):
    """``[[devices]] type = "simulator"``: see ``sample.toml`` beside this file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["simulator"]
    name: str = "simulator"
    enterprises: int = Field(50, ge=1, le=100_000, description="size of the simulated city")
    seed: int = 2026
    enterprise: str | None = Field(None, description="only this enterprise's meters")
    meters: list[str] = Field(default_factory=list, description="only these meters")
    interval_s: int = Field(15, ge=1, le=3_600, description="seconds between readings")
    mode: Mode = Mode.LIVE
    speed: float = Field(1.0, gt=0, le=1_000_000, description="live: simulated s per real s")
    start: datetime | None = Field(None, description="first tick; naive = Asia/Shanghai")
    end: datetime | None = Field(None, description="fast: last tick (required)")
    anchor: datetime | None = Field(None, description="registers' origin; default: start's day")

    @field_validator("start", "end", "anchor")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return value.replace(tzinfo=SHANGHAI) if value and value.tzinfo is None else value

    @field_validator("interval_s")
    @classmethod
    def _divides_hour(cls, value: int) -> int:
        if 3600 % value:
            raise ValueError(f"{value} does not divide 3600 (1, 5, 15, 60, ...)")
        return value

    @model_validator(mode="after")
    def _check(self) -> Config:
        if self.mode is Mode.FAST and (self.start is None or self.end is None):
            raise ValueError("mode 'fast' needs start and end")
        if self.start and self.end and self.end < self.start:
            raise ValueError("end is before start")
        if self.enterprise and self.meters:
            raise ValueError("give enterprise or meters, not both")
        city = self.city()  # local CPU work only: validates the names against the seeded city
        codes = {e.code for e in city.enterprises}
        if self.enterprise and self.enterprise not in codes:
            raise ValueError(f"enterprise {self.enterprise} is not in the simulated city")
        unknown = sorted(set(self.meters) - {m.id for m in city.meters})
        if unknown:
            raise ValueError(f"meters not in the simulated city: {', '.join(unknown[:5])}")
        return self

    def city(self) -> City:
        return _city(self.enterprises, self.seed)

    def selected(self) -> City:
        """The part of the city to simulate: whole gateways, so CEMS stacks keep their fuel."""
        city = self.city()
        if self.enterprise:
            wanted = {m.id for m in city.meters if m.enterprise_code == self.enterprise}
        elif self.meters:
            wanted = set(self.meters)
        else:
            return city
        gateways = {m.gateway_id for m in city.meters if m.id in wanted}
        owners = {g.enterprise_code for g in city.gateways if g.id in gateways}
        return City(
            city.seed,
            tuple(e for e in city.enterprises if e.code in owners),
            tuple(g for g in city.gateways if g.id in gateways),
            tuple(m for m in city.meters if m.gateway_id in gateways),
        )

    def wanted(self) -> frozenset[str]:
        if self.meters:
            return frozenset(self.meters)
        return frozenset(m.id for m in self.selected().meters)


@functools.lru_cache(maxsize=4)
def _city(enterprises: int, seed: int) -> City:
    """build_city is deterministic: validation and the driver share one city per (size, seed)."""
    return build_city(enterprises, seed)


def ticks(config: Config) -> Iterator[tuple[datetime, list[Reading]]]:
    """(instant, readings of the selected meters) per tick, from start; up to end if set."""
    start = config.start or datetime.now(SHANGHAI)
    sim = Simulation(
        config.selected(), start, interval_s=config.interval_s, anchor=config.anchor or start
    )
    wanted = config.wanted()
    while config.end is None or sim.next_time <= config.end:
        when = sim.next_time
        readings = [r for b in sim.step() for r in b.readings if r.meter in wanted]
        yield when, readings


def expected_readings(config: Config) -> list[Reading]:
    """Every reading a ``fast`` run of ``config`` emits (for tests and benchmarks)."""
    return [r for _, readings in ticks(config) for r in readings]


class SimulatorDriver:
    """The :class:`edge.drivers.Driver` for the simulated city."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.name = config.name

    async def run(self, emit: Emit, stop: asyncio.Event) -> None:
        emitted = 0
        origin_real, origin_sim = time.monotonic(), None
        for when, readings in ticks(self.config):
            if stop.is_set():
                break
            if self.config.mode is Mode.LIVE:
                origin_sim = origin_sim or when
                due = origin_real + (when - origin_sim).total_seconds() / self.config.speed
                if await _wait_until(stop, due):
                    break
            if readings:
                await emit(readings)
                emitted += len(readings)
            await asyncio.sleep(0)  # fast mode: let the publisher and signals in
        log.info("simulation ended", extra={"device": self.name, "readings": emitted})


async def _wait_until(stop: asyncio.Event, due: float) -> bool:
    """Sleep until ``due`` (monotonic); True if ``stop`` was set meanwhile."""
    delay = due - time.monotonic()
    if delay > 0:
        try:
            await asyncio.wait_for(stop.wait(), delay)
        except TimeoutError:
            return False
    return stop.is_set()


def create(config: Config) -> SimulatorDriver:
    return SimulatorDriver(config)
