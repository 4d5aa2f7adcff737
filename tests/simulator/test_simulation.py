"""The simulation: determinism, exact consumption across rollover and CT ratio, faults."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal

from carbonledger.wire import encode
from simulator import (
    City,
    Fault,
    FaultRates,
    OutgoingBatch,
    Simulation,
    build_city,
    consumption_from_readings,
    expected_consumption,
)
from simulator.city import Shift

T0 = datetime.fromisoformat("2026-03-04T06:00:00+08:00")  # a Wednesday
HIGH = FaultRates().scaled(200)  # rare faults made frequent enough to see in a few hours


def _run(sim: Simulation, hours: float, start: datetime = T0) -> list[OutgoingBatch]:
    out = [b for tick in sim.run(start + timedelta(hours=hours)) for b in tick]
    return out + sim.drain()


def _series(batches: list[OutgoingBatch]) -> dict[str, dict[datetime, float]]:
    series: dict[str, dict[datetime, float]] = defaultdict(dict)
    for batch in batches:
        for r in batch.readings:
            if not r.meter.endswith("cems1"):
                series[r.meter][r.time] = r.value
    return series


def test_same_seed_and_start_give_identical_payloads() -> None:
    city = build_city(4, 11)
    first = _run(Simulation(city, T0, faults=set(Fault), rates=HIGH), 1)
    second = _run(Simulation(city, T0, faults=set(Fault), rates=HIGH), 1)
    assert [encode(b.seq, b.readings, b.sent_at) for b in first] == [
        encode(b.seq, b.readings, b.sent_at) for b in second
    ]
    for batch in first:
        assert all(r.time.utcoffset() == timedelta(hours=8) for r in batch.readings)


def test_registers_join_up_across_runs_with_a_pinned_anchor() -> None:
    city = build_city(3, 5)
    whole = _series(_run(Simulation(city, T0), 2))
    later = Simulation(city, T0 + timedelta(hours=1, minutes=7), anchor=T0)
    for batch in later.step():
        for r in batch.readings:
            if city.meter(r.meter).cumulative:
                assert whole[r.meter][r.time] == r.value


def test_expected_consumption_matches_readings_across_a_rollover() -> None:
    base = build_city(1, 3)
    el1 = next(m for m in base.meters if m.carrier == "electricity")
    # 40x CT, 300 kW: the register counts ~7 kWh/h; it reads 2 kWh below the top at the anchor
    # (00:00 of the start day).
    meter = dataclasses.replace(
        el1, multiplier=40, rate=300.0, initial=Decimal("999997.99"), shift=Shift.CONTINUOUS
    )
    city = City(base.seed, base.enterprises, base.gateways, (meter,))
    start = T0.replace(hour=0)
    values = [r.value for b in _run(Simulation(city, start), 1, start) for r in b.readings]
    assert min(values) < 10 and values[0] > 999_990  # it rolled over
    expected = expected_consumption(city, start, start + timedelta(hours=1))[meter.id]
    assert consumption_from_readings(meter, values) == expected
    assert Decimal(200) < expected < Decimal(400)  # ~300 kWh primary in an hour


def test_expected_consumption_is_exact_with_every_fault() -> None:
    city = build_city(8, 21)
    start, end = T0 + timedelta(hours=3), T0 + timedelta(hours=7)  # 09:00-13:00: replacements
    rates = FaultRates(0.05, 0.5, 0.05, 0.05)
    sim = Simulation(city, start, faults=set(Fault), rates=rates)
    series = _series(_run(sim, 4, start))
    expected = expected_consumption(city, start, end)
    checked = set()
    for meter in city.meters:
        points = series.get(meter.id, {})
        if meter.cumulative and start in points and end in points:
            values = [points[t] for t in sorted(points)]
            assert consumption_from_readings(meter, values) == expected[meter.id], meter.id
            checked.add(meter.id)
    assert len(checked) >= len(city.meters) // 2
    assert any(e.fault is Fault.RESET and e.subject in checked for e in sim.events)


def test_duplicate_repeats_seq_and_payload() -> None:
    sim = Simulation(build_city(5, 2), T0, faults={Fault.DUPLICATE}, rates=HIGH)
    batches = _run(sim, 1)
    dups = [b for b in batches if b.duplicate]
    assert dups
    for dup in dups:
        original = next(
            b for b in batches if not b.duplicate and (b.gateway, b.seq) == (dup.gateway, dup.seq)
        )
        assert batches.index(original) < batches.index(dup)
        assert encode(dup.seq, dup.readings, dup.sent_at) == encode(
            original.seq, original.readings, original.sent_at
        )


def test_late_batch_arrives_after_a_later_seq() -> None:
    sim = Simulation(build_city(5, 2), T0, faults={Fault.LATE}, rates=HIGH)
    published = [b for tick in sim.run(T0 + timedelta(hours=1)) for b in tick]
    late = [b for b in published if b.late]
    assert late
    for batch in late:
        before = published[: published.index(batch)]
        assert any(b.gateway == batch.gateway and b.seq > batch.seq for b in before)
        assert batch.sent_at > max(r.time for r in batch.readings) + timedelta(seconds=15)
    seqs: dict[str, list[int]] = defaultdict(list)
    for b in published + sim.drain():
        seqs[b.gateway].append(b.seq)
    for numbers in seqs.values():  # every seq exactly once: late batches are moved, not lost
        assert sorted(numbers) == list(range(min(numbers), min(numbers) + len(numbers)))


def test_reset_drops_the_register_to_about_zero() -> None:
    city = build_city(20, 9)
    start = T0 + timedelta(hours=3)  # 09:00, replacements happen 09:00-16:00
    sim = Simulation(city, start, faults={Fault.RESET}, rates=FaultRates(reset_per_meter_day=0.5))
    series = _series([b for tick in sim.run(start + timedelta(hours=7)) for b in tick])
    resets = [e for e in sim.events if e.fault is Fault.RESET]
    assert resets
    for event in resets:
        meter = city.meter(event.subject)
        points = series[meter.id]
        before = points[event.time - timedelta(seconds=15)]
        after = points[event.time]
        assert after < before and after < 0.001 * float(meter.register_max or 0) + 1


def test_offline_leaves_a_gap() -> None:
    city = build_city(10, 4)
    sim = Simulation(city, T0, faults={Fault.OFFLINE}, rates=HIGH)
    batches = _run(sim, 2)
    series = _series(batches)
    ticks = {r.time for b in batches for r in b.readings}
    went_offline = {e.subject for e in sim.events if e.detail == "stops reporting"}
    assert went_offline
    for meter_id in went_offline:
        assert len(series[meter_id]) < len(ticks)
    for meter in city.meters:
        if meter.cumulative and meter.id not in went_offline and T0 in series[meter.id]:
            assert len(series[meter.id]) == len(ticks)  # no outage: no gap
