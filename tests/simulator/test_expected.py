"""The reference helpers: register deltas across rollover and reset, times the CT x PT ratio."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from simulator import build_city, consumption_from_readings, register_delta


def test_register_delta_rollover_and_multiplier_hand_computed() -> None:
    top = Decimal("1000000")  # a DL/T 645 XXXXXX.XX register: 999999.99 + 0.01 reads 0.00
    assert register_delta(Decimal("999999.50"), Decimal("0.70"), top) == Decimal("1.20")
    assert register_delta(Decimal("12.00"), Decimal("12.25"), top) == Decimal("0.25")
    assert register_delta(Decimal("5000.00"), Decimal("0.40"), top) == Decimal("0.40")  # reset
    meter = dataclasses.replace(build_city(1, 1).meters[0], multiplier=40, register_max=top)
    # (999999.90 - 999999.50) + (0.70 + 1000000 - 999999.90) + (1.00 - 0.70) = 1.50 x 40
    values = [999999.50, 999999.90, 0.70, 1.00]
    assert consumption_from_readings(meter, values) == Decimal("60.00")
