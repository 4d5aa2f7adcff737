"""The streaming aggregator against the real database and the real ingest.

Readings of a simulated city (with resets, duplicates and late batches) go through MQTT and
ingest in a shuffled order while the aggregator follows ``reading_changes``; the final rollups
must equal a recompute from raw readings and the simulator's exact consumption.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal

import psycopg
import pytest

from analytics import Aggregator, Partition, recompute
from carbonledger import wire
from carbonledger.config import AggregateSettings
from simulator import Fault, FaultRates, Simulation, build_city, expected_consumption
from simulator.registry import register_city
from tests.helpers import (
    InThread,
    PrivateMosquitto,
    Publisher,
    RunningIngest,
    make_settings,
    wait_for,
)

T0 = datetime.fromisoformat("2026-03-04T10:00:00+08:00")  # replacements happen 09-16
HOURS = 2


class RunningAggregator(InThread):
    """An Aggregator in a thread, ready once it listens for changes."""

    def __init__(self, url: str, partition: Partition | None = None) -> None:
        self.aggregator = Aggregator(url, AggregateSettings(poll_s=0.2), partition or Partition())
        super().__init__(self.aggregator.run, self.aggregator.ready)


def rollups(url: str) -> dict[tuple[str, str, datetime], tuple[int, ...]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT meter_id, quantity, bucket, activity_fp, covered_ms, estimated_ms,"
            " readings_good, readings_estimated, readings_bad FROM rollups_15m"
        ).fetchall()
    return {(r[0], r[1], r[2]): tuple(r[3:]) for r in rows}


def events(url: str) -> set[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT meter_id, quantity, kind, time, amount FROM quality_events")
        return set(rows.fetchall())


def caught_up(url: str) -> bool:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM reading_changes c WHERE c.txid >= ALL("
            " SELECT txid FROM aggregator_watermarks)"
        ).fetchone()
        return bool(row and row[0] == 0)


@pytest.fixture
def city_url(storage_db_url: str) -> Iterator[str]:
    with psycopg.connect(storage_db_url) as conn:
        register_city(conn, build_city(3, 2))
    yield storage_db_url


def test_streaming_equals_recompute_and_expected(
    city_url: str, topic_root: str, roomy_broker: PrivateMosquitto
) -> None:
    city = build_city(3, 2)
    sim = Simulation(city, T0, faults={Fault.RESET, Fault.DUPLICATE, Fault.LATE},
                     rates=FaultRates().scaled(500))  # fmt: skip
    batches = [b for tick in sim.run(T0 + timedelta(hours=HOURS)) for b in tick] + sim.drain()
    head, tail = batches[: len(batches) // 2], batches[len(batches) // 2 :]
    random.Random(5).shuffle(tail)  # the second hour arrives out of order
    # a burst of ~1,500 batches: on the shared broker a slow ingest would lose some (conftest)
    settings = make_settings(city_url, topic_root, mqtt_url=roomy_broker.url)
    publisher = Publisher(roomy_broker.url)
    with RunningAggregator(city_url), RunningIngest(settings):
        for batch in [*head, *tail, *random.Random(6).sample(batches, 20)]:  # + redeliveries
            topic = wire.readings_topic(batch.enterprise, batch.gateway, topic_root)
            publisher.publish(topic, wire.encode(batch.seq, batch.readings, batch.sent_at))
        publisher.close()
        stored = sum(len(b.readings) for b in batches if not b.duplicate)
        # generous: on a loaded 2-core machine ingest shares the CPU with the whole suite
        assert wait_for(lambda: _count(city_url) >= stored, timeout=180), _count(city_url)
        assert wait_for(lambda: caught_up(city_url), timeout=30)
    streamed, streamed_events = rollups(city_url), events(city_url)
    assert {q for _, q, _ in streamed} >= {"energy_import", "co2_mass"}
    resets = {e.subject for e in sim.events if e.fault is Fault.RESET}
    assert resets and resets == {e[0] for e in streamed_events if e[2] == "reset"}
    day = T0.date()
    recompute(city_url, day, day + timedelta(days=1), AggregateSettings())
    assert rollups(city_url) == streamed
    assert events(city_url) == streamed_events
    _check_expected(city_url, city)


def _count(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM readings").fetchone()
        return int(row[0]) if row else 0


def _check_expected(url: str, city: object) -> None:
    """Sum of the buckets between the first and last tick = the simulator's exact consumption."""
    end = T0 + timedelta(hours=HOURS)
    expected = expected_consumption(city, T0, end)  # type: ignore[arg-type]
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT meter_id, sum(activity_fp) FROM rollups_15m WHERE bucket >= %s AND bucket < %s"
            " AND quantity NOT IN ('co2_mass', 'active_power') GROUP BY meter_id",
            (T0, end),
        ).fetchall()
    booked = {m: Decimal(v).scaleb(-4) for m, v in rows}
    assert booked.keys() == {m for m, v in expected.items() if v or m in booked}
    for meter_id, value in expected.items():
        assert booked.get(meter_id, Decimal(0)) == value, meter_id
