"""Exact consumption: the simulator's ground truth for end-to-end accounting tests.

The simulated registers are a deterministic function of absolute time (:mod:`.profiles`), so the
consumption of every meter between two instants is known exactly without replaying a reading.
End-to-end tests compare what ingest and accounting booked against :func:`expected_consumption`,
and the analytics kernels will be checked against the same figures. :func:`register_delta` and
:func:`consumption_from_readings` are the reference for turning register values into consumption
(rollover, reset, CT x PT multiplier), written plainly so a test can trust them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from .city import City, Meter
from .profiles import local_day, steps_until


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
