"""Hand-computed cases for every rule of domain.md §2-3 the kernels implement (no database)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import pytest

from analytics._series import Kind, MeterParams, RollupRow, Window, compute
from analytics._stuck import stuck_buckets
from carbonledger.config import AggregateSettings
from simulator import register_delta

B = 900_000  # one bucket, ms
T = 1_772_553_600_000  # 2026-03-04 00:00 +08:00 = 2026-03-03T16:00Z, a bucket edge
SETTINGS = AggregateSettings()
G, E, BAD = 0, 1, 2


def meter(
    multiplier: str = "1", top: str | None = "1000000", rate: str | None = None
) -> MeterParams:
    return MeterParams.from_registry(
        enterprise_code="91331102MA2A00001X",
        carrier="electricity",
        multiplier=Decimal(multiplier),
        register_max=Decimal(top) if top else None,
        max_rate=Decimal(rate) if rate else None,
        settings=SETTINGS,
    )


def run(
    points: Sequence[tuple[int, float] | tuple[int, float, int]],
    params: MeterParams | None = None,
    buckets: int = 4,
    kind: Kind = Kind.CUMULATIVE,
    settings: AggregateSettings = SETTINGS,
) -> tuple[list[RollupRow], list[tuple[str, int, Decimal]]]:
    """Readings at T + offset ms -> (rows, [(event kind, offset, amount)])."""
    w = Window("m", "energy_import" if kind is Kind.CUMULATIVE else "active_power", kind, T,
               T + buckets * B)  # fmt: skip
    for p in points:
        w.times.append(T + p[0])
        w.values.append((p[1],))
        w.qualities.append(p[2] if len(p) == 3 else G)
        w.received.append(T + p[0])
    rows, events = compute([w], {"m": params or meter()}, settings)
    return rows, [(e.kind, e.time_ms - T, e.amount) for e in events]


def activity(rows: Sequence[RollupRow]) -> list[int]:
    by_bucket = {(r.bucket_ms - T) // B: r.activity_fp for r in rows}
    return [by_bucket.get(b, 0) for b in range(max(by_bucket, default=-1) + 1)]


def test_plain_delta_times_ct_pt_multiplier() -> None:
    rows, events = run([(0, 100.00), (300_000, 100.25), (600_000, 100.75)], meter("40"))
    assert activity(rows) == [(25 + 50) * 40 * 100]  # 0.75 register kWh x 40 = 30 kWh
    assert rows[0].covered_ms == 600_000 and rows[0].good == 3
    assert events == []


def test_rollover_at_the_register_modulus() -> None:
    rows, events = run([(0, 999_999.50), (300_000, 0.70)], meter("40"))
    assert activity(rows) == [12_000 * 40]  # 0.70 + 1000000 - 999999.50 = 1.20 x 40
    assert register_delta(Decimal("999999.50"), Decimal("0.70"), Decimal(1_000_000)) == Decimal(
        "1.20"
    )  # the simulator's reference agrees
    assert events == []


def test_reset_books_the_new_value_and_flags_it() -> None:
    rows, events = run([(0, 5000.00), (15_000, 0.40)])
    assert activity(rows) == [4_000]
    assert events == [("reset", 15_000, Decimal("0.4"))]


def test_spike_above_the_physical_maximum_is_flagged_not_booked() -> None:
    # max 200 register units/h: 15 s allow 0.8333; 50 is a spike, then 0.5 is plausible again
    rows, events = run([(0, 10.0), (15_000, 60.0), (30_000, 60.5)])
    assert activity(rows) == [5_000]
    assert events == [("spike", 15_000, Decimal(50))]


def test_registry_max_rate_overrides_the_carrier_default() -> None:
    rows, events = run([(0, 10.0), (15_000, 60.0)], meter(rate="100000"))
    assert activity(rows) == [500_000] and events == []


def test_small_drop_is_a_negative_delta_not_a_reset() -> None:
    rows, events = run([(0, 5000.0), (15_000, 4999.0), (30_000, 4999.5)])
    assert activity(rows) == [5_000]  # only the last interval
    assert events == [("negative_delta", 15_000, Decimal(-1))]


def test_gap_spread_proportionally_with_exact_remainder_placement() -> None:
    # 1 unit (10000 fp) over 40 minutes from 00:05: 10, 15, 15 minutes -> 2500, 3750, 3750
    rows, _ = run([(300_000, 0.0), (2_700_000, 1.0)])
    assert activity(rows) == [2_500, 3_750, 3_750, 0]  # the last reading opens bucket 3
    # 0.0001 x 7 over three equal buckets: floor cumulative shares 2, 4, 7 -> 2, 2, 3
    rows, _ = run([(0, 0.0), (3 * B, 0.0007)])
    assert activity(rows) == [2, 2, 3, 0]
    assert sum(r.covered_ms for r in rows) == 3 * B
    assert ("offline", 3 * B, Decimal(2700)) in run([(0, 0.0), (3 * B, 0.0007)])[1]


def test_a_gap_is_booked_in_full_and_its_time_counted_as_estimated() -> None:
    # silent from 00:00 to 07:30 (7.5 h, 30 buckets): 15 kWh of real energy, spread by estimate
    gap = 30 * B
    rows, events = run([(0, 100.0), (gap, 115.0), (gap + 60_000, 115.1)], buckets=31)
    assert sum(activity(rows)) == 150_000 + 1_000
    assert sum(r.covered_ms for r in rows) == gap + 60_000  # coverage stays whole
    assert sum(r.estimated_ms for r in rows) == gap  # but the gap's share is an estimate
    assert rows[-1].estimated_ms == 0  # the minute after the gap was read, not estimated
    assert ("offline", gap, Decimal(27_000)) in events


def test_an_interval_up_to_the_offline_threshold_is_not_estimated() -> None:
    limit = SETTINGS.offline_after_s * 1000
    rows, events = run([(0, 100.0), (limit, 100.5)], buckets=2)
    assert sum(r.estimated_ms for r in rows) == 0 and events == []
    rows, events = run([(0, 100.0), (limit + 1, 100.5)], buckets=2)
    assert sum(r.estimated_ms for r in rows) == limit + 1 and events[0][0] == "offline"


def test_bad_readings_are_counted_but_never_booked() -> None:
    rows, _ = run([(0, 1.0), (15_000, 999.0, BAD), (30_000, 1.5)])
    assert activity(rows) == [5_000]
    assert (rows[0].good, rows[0].bad) == (2, 1)


def test_estimated_intervals_are_booked_and_reported() -> None:
    rows, _ = run([(0, 1.0), (15_000, 1.25, E), (30_000, 1.5)])
    assert activity(rows) == [5_000]
    assert rows[0].estimated_ms == 30_000 and rows[0].estimated == 1


def test_stuck_is_the_bucket_completing_k_flat_buckets() -> None:
    flat = {T + i * B for i in (1, 2, 3, 4, 5, 6, 9, 10)}  # flat: covered, nothing booked
    assert stuck_buckets(flat, T, T + 12 * B, 4) == [T + 4 * B]  # 1..4; 9-10 too short
    assert stuck_buckets(flat, T + 5 * B, T + 12 * B, 4) == []  # the run started before


def test_clock_skew_future_timestamps() -> None:
    w = Window("m", "energy_import", Kind.CUMULATIVE, T, T + B)
    w.times, w.values, w.qualities, w.received = (
        [T, T + 1000],
        [(1.0,), (1.0,)],
        [G, G],
        [T, T - 600_000],
    )
    _, events = compute([w], {"m": meter()}, SETTINGS)
    assert [(e.kind, e.amount) for e in events] == [("clock_skew", Decimal(601))]


def test_power_integrated_by_trapezoid_and_not_across_holes() -> None:
    # 100 kW -> 200 kW over 5 min: 12.5 kWh; then a 10-minute hole (> 5 min) books nothing
    rows, _ = run([(0, 100.0), (300_000, 200.0), (B, 200.0)], kind=Kind.POWER)
    assert activity(rows) == [125_000, 0]


def test_cems_hj75_standard_dry_flow_times_concentration() -> None:
    # Qs 100000 m3/h at 127 degC, Ps -500 Pa, 10 % moisture; C = 196470 mg/m3 (10 % CO2)
    qsn = 100_000 * 273 / (273 + 127) * (101_325 - 500) / 101_325 * 0.9
    grams_per_h = 196_470 * qsn * 1e-3
    w = Window("s", "co2_mass", Kind.CEMS, T, T + 2 * B)
    sample = (196_470.0, 100_000.0, 127.0, -500.0, 10.0)
    for i in range(5):
        w.times.append(T + i * 225_000)
        w.values.append(sample)
        w.qualities.append(G)
        w.received.append(-1)
    rows, _ = compute([w], {"s": meter()}, SETTINGS)
    assert sum(r.activity_fp for r in rows) == round(grams_per_h * 0.25 / 4) * 4
    assert grams_per_h / 1e6 == pytest.approx(12.0086, abs=1e-4)  # ~12 tCO2/h
