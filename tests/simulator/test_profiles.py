"""Load shapes: shift patterns, weekends and the days' register steps."""

from __future__ import annotations

from datetime import datetime

from simulator.city import Shift, build_city
from simulator.profiles import day_steps, load_factor, local_day

T0 = datetime.fromisoformat("2026-03-04T06:00:00+08:00")  # a Wednesday


def test_day_shift_weekend_is_lower_than_weekday() -> None:
    city = build_city(60, 2026)
    meter = next(m for m in city.meters if m.shift is Shift.DAY and m.carrier == "electricity")
    wednesday = local_day(int(T0.timestamp()))
    sunday = wednesday + 4
    assert load_factor(Shift.DAY, sunday, 10) < 0.3 * load_factor(Shift.DAY, wednesday, 10)
    assert day_steps(meter, city.seed, sunday) < 0.6 * day_steps(meter, city.seed, wednesday)
    continuous = sum(load_factor(Shift.CONTINUOUS, sunday, h) for h in range(24))
    assert continuous > 0.9 * sum(load_factor(Shift.CONTINUOUS, wednesday, h) for h in range(24))
