"""Property: any permutation, duplication and batching of readings gives the recompute's rollups.

Readings go through the ingest writer (so ``reading_changes`` is what production writes) in
random batches, with the aggregator's cycle run at random points in between; at the end the
streamed rollups and events must equal a recompute from raw readings and a single in-memory pass.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics import Aggregator, recompute
from analytics._series import Kind, MeterParams, Window, compute, floor_bucket
from analytics._store import from_ms, to_ms
from carbonledger.config import AggregateSettings
from carbonledger.tz import SHANGHAI
from ingest.writer import BatchWriter, Message
from tests.helpers import ENTERPRISE_A, ENTERPRISE_B, register_sites

T0 = datetime(2026, 3, 3, 20, 0, tzinfo=UTC)  # 04:00 +08:00
METERS = {"a-m00": (ENTERPRISE_A, 40, 1_000_000), "b-m00": (ENTERPRISE_B, 1, None)}
CONFIG = AggregateSettings(stuck_after_s=3_600)
Reading = tuple[datetime, str, str, float, str, datetime]


@st.composite
def meter_series(draw: st.DrawFn, meter_id: str) -> list[Reading]:
    """A register with increments, rollovers, resets, spikes, drops, gaps and bad readings."""
    cents = draw(st.sampled_from([1_000, 99_999_000]))  # far from, or near, the top
    t = T0
    out = []
    for _ in range(draw(st.integers(2, 30))):
        t += timedelta(seconds=draw(st.sampled_from([15, 15, 15, 45, 400, 1_300, 5_000])))
        step = draw(st.sampled_from(["inc", "inc", "inc", "flat", "reset", "spike", "drop"]))
        if step == "inc":
            cents = (cents + draw(st.integers(0, 400))) % 100_000_000
        elif step == "reset":
            cents = draw(st.integers(0, 20))
        elif step == "spike":
            cents += 500_000
        elif step == "drop":
            cents = max(0, cents - 100)
        quality = draw(st.sampled_from(["good"] * 6 + ["estimated", "bad"]))
        out.append((t, meter_id, "energy_import", cents / 100, quality, t + timedelta(seconds=1)))
    return out


@st.composite
def arrivals(draw: st.DrawFn) -> tuple[list[Reading], list[list[Reading]], list[bool]]:
    readings = draw(meter_series("a-m00")) + draw(meter_series("b-m00"))
    order = draw(st.permutations(readings))
    extra = draw(st.lists(st.sampled_from(readings), max_size=8))  # redeliveries
    stream = list(order) + extra
    cuts = sorted(draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    batches = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    cycles = draw(st.lists(st.booleans(), min_size=len(batches), max_size=len(batches)))
    return readings, [b for b in batches if b], cycles


@pytest.fixture
def prepared(db_url: str) -> Iterator[str]:
    register_sites(db_url)
    with psycopg.connect(db_url) as conn:
        for meter_id, (_, mult, top) in METERS.items():
            conn.execute(
                "UPDATE meters SET multiplier = %s, register_max = %s WHERE id = %s",
                (mult, top, meter_id),
            )
    yield db_url


def _reset(url: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(
            "TRUNCATE readings, reading_changes, rollups_15m, quality_events,"
            " aggregator_watermarks, rollup_frontiers, dead_letters"
        )


def _snapshot(url: str) -> tuple[set[tuple[object, ...]], set[tuple[object, ...]]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT meter_id, quantity, bucket, activity_fp, covered_ms, estimated_ms,"
            " readings_good, readings_estimated, readings_bad FROM rollups_15m"
        ).fetchall()
        events = conn.execute("SELECT meter_id, kind, time, amount FROM quality_events").fetchall()
    return set(rows), set(events)


def _in_memory(readings: list[Reading]) -> set[tuple[object, ...]]:
    """One pass over the whole history: the reference the database paths must equal."""
    unique = sorted({(r[1], r[0]): r for r in readings}.values(), key=lambda r: (r[1], r[0]))
    windows, params = [], {}
    for meter_id, (code, mult, top) in METERS.items():
        mine = [r for r in unique if r[1] == meter_id]
        lo, hi = floor_bucket(to_ms(T0)), floor_bucket(to_ms(mine[-1][0])) + 900_000
        w = Window(meter_id, "energy_import", Kind.CUMULATIVE, lo, hi)
        for r in mine:
            w.times.append(to_ms(r[0]))
            w.values.append((r[3],))
            w.qualities.append({"good": 0, "estimated": 1, "bad": 2}[r[4]])
            w.received.append(to_ms(r[5]))
        windows.append(w)
        params[meter_id] = MeterParams.from_registry(
            enterprise_code=code,
            carrier="electricity",
            multiplier=Decimal(mult),
            register_max=None if top is None else Decimal(top),
            max_rate=None,
            settings=CONFIG,
        )
    rows, _ = compute(windows, params, CONFIG)
    return {
        (r.meter_id, r.quantity, from_ms(r.bucket_ms), r.activity_fp, r.covered_ms,
         r.estimated_ms, r.good, r.estimated, r.bad)
        for r in rows
    }  # fmt: skip


@st.composite
def appends_then_late(
    draw: st.DrawFn,
) -> tuple[list[Reading], list[list[Reading]], list[bool]]:
    """Most readings in time order, a cycle after each batch (the append path), then the held
    back ones late, in any order and with redeliveries (window recomputes), more cycles between."""
    readings = draw(meter_series("a-m00")) + draw(meter_series("b-m00"))
    late = draw(st.lists(st.sampled_from(readings), max_size=6, unique=True))
    on_time = sorted((r for r in readings if r not in late), key=lambda r: r[0])
    cuts = sorted(draw(st.lists(st.integers(0, len(on_time)), max_size=10)))
    batches = [on_time[a:b] for a, b in zip([0, *cuts], [*cuts, len(on_time)], strict=True)]
    tail = list(draw(st.permutations(late))) + draw(st.lists(st.sampled_from(readings), max_size=4))
    split = draw(st.integers(0, len(tail)))
    batches += [tail[:split], tail[split:]]
    batches = [b for b in batches if b]
    return readings, batches, [True] * len(batches)


SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@SETTINGS
@given(case=arrivals())
def test_any_arrival_order_gives_the_recompute(prepared: str, case: tuple) -> None:  # type: ignore[type-arg]
    _stream_and_check(prepared, *case)


@SETTINGS
@given(case=appends_then_late())
def test_appends_then_late_readings_give_the_recompute(prepared: str, case: tuple) -> None:  # type: ignore[type-arg]
    _stream_and_check(prepared, *case)


def _stream_and_check(
    url: str, readings: list[Reading], batches: list[list[Reading]], cycles: list[bool]
) -> None:
    _reset(url)
    writer = BatchWriter(url)
    aggregator = Aggregator(url, CONFIG)
    with psycopg.connect(url) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        for batch, cycle in zip(batches, cycles, strict=False):
            _write(writer, batch)
            if cycle:
                aggregator.cycle(conn)
        while aggregator.cycle(conn).more or aggregator.cycle(conn).changes:
            pass
    writer.close()
    streamed = _snapshot(url)
    first = min(r[0] for r in readings).astimezone(SHANGHAI).date()
    last = max(r[0] for r in readings).astimezone(SHANGHAI).date()
    recompute(url, first, last, CONFIG, progress=_Null())
    assert _snapshot(url) == streamed
    assert streamed[0] == _in_memory(readings)


def _write(writer: BatchWriter, batch: list[Reading]) -> None:
    writer.write([Message("t", b"", rows=list(batch), row_indexes=list(range(len(batch))))])


def _settle(dsn: str, timeout: float = 30.0) -> None:
    """Wait until the cluster-wide xmin passes everything committed so far, so that the next
    cycle sees the last write even while other databases on the server hold open transactions."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT pg_current_xact_id()::text").fetchone()
        assert row is not None
        deadline = time.monotonic() + timeout
        while True:
            done = conn.execute(
                "SELECT pg_snapshot_xmin(pg_current_snapshot()) > %s::xid8", (row[0],)
            ).fetchone()
            if done and done[0]:
                return
            assert time.monotonic() < deadline, "an open transaction holds the xmin back"
            time.sleep(0.05)


def test_in_order_readings_are_added_and_a_late_one_recomputes(prepared: str) -> None:
    """a-m00 (x 40): 100.00 @0 s, 100.25 @300 s, 100.75 @600 s, then 101.00 @1200 s, then a late
    100.80 @900 s. Buckets [0, 900 s) and [900 s, 1800 s); activity in 1e-4 kWh."""
    writer = BatchWriter(prepared)
    aggregator = Aggregator(prepared, CONFIG)

    def reading(seconds: int, value: float) -> Reading:
        t = T0 + timedelta(seconds=seconds)
        return (t, "a-m00", "energy_import", value, "good", t)

    def buckets() -> list[tuple[int, int, int]]:
        rows = _snapshot(prepared)[0]
        return sorted((r[3], r[4], r[6]) for r in rows)  # activity, covered ms, good readings

    with psycopg.connect(prepared) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        _write(writer, [reading(0, 100.00), reading(300, 100.25), reading(600, 100.75)])
        _settle(prepared)
        aggregator.cycle(conn)
        assert buckets() == [(300_000, 600_000, 3)]  # 0.75 x 40 = 30 kWh
        _write(writer, [reading(1200, 101.00)])
        _settle(prepared)
        appended = aggregator.cycle(conn)
        assert appended.stats.readings == 2  # 100.75 (carried) and 101.00 only
        # 0.25 x 40 = 10 kWh over 600..1200 s, half in each bucket: + 5 kWh, 5 kWh
        assert buckets() == [(50_000, 300_000, 1), (350_000, 900_000, 3)]
        _write(writer, [reading(900, 100.80)])
        _settle(prepared)
        late = aggregator.cycle(conn)
        assert late.stats.readings == 5  # the window 0..1800 s, recomputed from all of them
        # bucket 0: (0.75 + 0.05) x 40 = 32 kWh; bucket 1: 0.20 x 40 = 8 kWh, 2 readings
        assert buckets() == [(80_000, 300_000, 2), (320_000, 900_000, 3)]
        frontier = conn.execute("SELECT time FROM rollup_frontiers").fetchall()
        assert frontier == [(T0 + timedelta(seconds=1200),)]
    writer.close()


class _Null:
    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False
