"""The simulated city's rollup history, written directly for benchmarks (``simulate history``).

What each meter counts is a pure function of (meter, seed, day) (:mod:`.profiles`), so the
15-minute rollups that ingest and the aggregator would produce from its readings are known without
publishing one: each local hour carries exactly the register steps of :func:`.profiles.hour_steps`
(the sums :func:`.expected.expected_consumption` gives between whole hours), split evenly over its
four quarters. A CEMS stack's CO2 mass is its driver meter's activity times ``co2_per_unit`` (the
same relation :func:`.profiles.stack_values` reports, without the instruments' noise).
:func:`analytics.history.write_history` writes them (the one writer of ``rollups_15m``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import psycopg

from analytics import CO2_MASS, SCALES
from analytics.history import HistoryReport, Progress, Series, write_history, write_month_sums

from .city import City, Meter
from .profiles import day_steps, hour_steps

_EPOCH = date(1970, 1, 1).toordinal()


def series_of(city: City) -> list[Series]:
    """The rolled-up series of the city's meters: registers, and each stack's CO2 mass."""
    return [
        Series(m.id, m.enterprise_code, m.quantity if m.cumulative else CO2_MASS, m.cumulative)
        for m in city.meters
    ]


class CityProfile:
    """The buckets of a local day of any of the city's series (a :data:`DayProfile`)."""

    def __init__(self, city: City) -> None:
        self.city = city
        self._meters = {m.id: m for m in city.meters}

    def __call__(self, series: Series, day: date) -> list[int]:
        meter = self._meters[series.meter_id]
        if meter.stack is None:
            factor = meter.multiplier * 10 ** (SCALES[series.quantity] - meter.decimals)
            return [steps * factor for steps in self.quarters(meter, day)]
        driver = self._meters[meter.stack.driver]
        # t CO2 x 1e6 = driver units x kg/unit x 1e3; driver units = steps x mult / 10^decimals
        grams = driver.multiplier * meter.stack.co2_per_unit * 1000 / 10**driver.decimals
        assert SCALES[CO2_MASS] == 6  # noqa: S101 - the grams above are 1e-6 t
        return [round(steps * grams) for steps in self.quarters(driver, day)]

    def month(self, series: Series, first: date) -> int:
        """A month's activity_fp as its 15th day's times its days: a plausible month sum for
        benchmarks of month sums (:func:`write_city_month_sums`), not a sum of its days."""
        days = (date(first.year + first.month // 12, first.month % 12 + 1, 1) - first).days
        middle = first.replace(day=15)
        meter = self._meters[series.meter_id]
        if meter.stack is None:
            factor = meter.multiplier * 10 ** (SCALES[series.quantity] - meter.decimals)
            return int(
                day_steps(meter, self.city.seed, middle.toordinal() - _EPOCH) * factor * days
            )
        return sum(self(series, middle)) * days

    def quarters(self, meter: Meter, day: date) -> list[int]:
        """Register steps per 15-minute bucket: each hour's exact steps in four even parts."""
        out: list[int] = []
        for steps in hour_steps(meter, self.city.seed, day.toordinal() - _EPOCH):
            out.extend(steps * (k + 1) // 4 - steps * k // 4 for k in range(4))
        return out


def write_city_history(
    conn: psycopg.Connection,
    city: City,
    first: date,
    end: date,
    *,
    progress: Progress | None = None,
    series: Sequence[Series] | None = None,
) -> HistoryReport:
    """The rollups of the city's meters (or ``series``) over local days ``first``..``end``."""
    chosen = series_of(city) if series is None else series
    return write_history(conn, chosen, first, end, CityProfile(city), progress=progress)


def write_city_month_sums(
    conn: psycopg.Connection,
    city: City,
    first: date,
    end: date,
    *,
    series: Sequence[Series] | None = None,
) -> int:
    """Sealed month sums of the city's series (or ``series``) over local months first..end,
    without buckets (:func:`analytics.history.write_month_sums`); returns the rows."""
    chosen = series_of(city) if series is None else series
    return write_month_sums(conn, chosen, first, end, CityProfile(city).month)
