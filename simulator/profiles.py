"""Load shapes: how much each simulated meter counts in every day, hour and tick, and CEMS values.

Registers are a deterministic function of absolute time, not of when a run started. Each meter's
consumption is drawn per local day (shift pattern, weekday, season, noise), apportioned to the
hours of the day and then to the ticks of each hour with integer arithmetic, so the sums are exact
(domain.md §1): the register at any instant is its value at the *anchor* plus the steps since.
Two consequences the rest of the platform relies on:

* re-running a window with the same seed and anchor publishes identical readings, so history can
  be replayed and a fast-forward followed by a live run joins up without a jump;
* :func:`.expected.expected_consumption` gives the exact consumption of a meter between two
  instants without replaying the readings, which is what the end-to-end accounting tests compare
  against.

Everything here is a pure function of (meter, seed, time); :mod:`.simulation` steps through it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from .city import Drive, Meter, Shift, Stack, stream

_OFFSET = 8 * 3600
DAY = 86_400
HOUR = 3_600

# Hour-of-day load factors at full production, local time.
_HOURLY: dict[Shift, tuple[float, ...]] = {
    Shift.DAY: (0.12,) * 7 + (0.5,) + (1.0,) * 4 + (0.6,) + (1.0,) * 4 + (0.55, 0.3) + (0.15,) * 5,
    Shift.TWO_SHIFT: (0.25,) * 6 + (1.0,) * 8 + (0.9,) + (1.0,) * 7 + (0.3,) * 2,
    Shift.CONTINUOUS: (0.93,) * 7 + (1.0,) * 17,
}
# Share of production kept on Saturday and Sunday (the idle base load always stays).
_WEEKEND: dict[Shift, tuple[float, float]] = {
    Shift.DAY: (0.3, 0.05),
    Shift.TWO_SHIFT: (0.7, 0.3),
    Shift.CONTINUOUS: (1.0, 0.97),
}
# Month factors: electricity peaks with summer air conditioning; heat with cold feed water; both dip
# in February for the Spring Festival. Nothing fancier: accounting, not load forecasting, is tested.
_SEASON_ELECTRICITY = (1.02, 0.85, 1.0, 1.0, 1.0, 1.03, 1.08, 1.08, 1.03, 1.0, 1.0, 1.02)
_SEASON_HEAT = (1.08, 0.88, 1.03, 1.0, 0.97, 0.95, 0.93, 0.93, 0.95, 0.98, 1.02, 1.06)
# PV yield in kWh per kWp per day in Lishui by month (peak sun hours x performance ratio 0.8).
_PV_YIELD = (2.0, 2.2, 2.4, 2.8, 3.0, 2.7, 3.6, 3.5, 3.0, 2.7, 2.3, 2.1)
_LATITUDE = math.radians(28.45)
# Small hydro capacity factor by month in Lishui: low in the dry winter, rising with the spring
# rains to the plum-rain peak in June, typhoon rains keeping late summer up (run of river).
HYDRO_CF = (0.30, 0.38, 0.52, 0.65, 0.75, 0.85, 0.62, 0.55, 0.47, 0.35, 0.29, 0.26)
# A retrofitted gas boiler: a standby share of its full rate burns around the clock (keeping it
# warm), the rest follows production at a specific consumption; the retrofit (condensing
# economiser, burner controls) saves a share of both. Monthly gas then fits gas = a + b x output.
BOILER_STANDBY = 0.1
BOILER_NM3_PER_T = 60.0  # Nm3 of gas per t of output before the retrofit
RETROFIT_SAVING = 0.18


# ---------------------------------------------------------------------------------------------
# Profiles: pure functions of the calendar.


def local_day(ts: int) -> int:
    """Days since 1970-01-01 in Asia/Shanghai for a Unix time."""
    return (ts + _OFFSET) // DAY


def day_start(day: int) -> int:
    """Unix time of 00:00 +08:00 on local day ``day``."""
    return day * DAY - _OFFSET


def minute_of_day(ts: int) -> int:
    """Local minute of the day (0..1439) in Asia/Shanghai for a Unix time."""
    return (ts + _OFFSET) % DAY // 60


def load_factor(shift: Shift, day: int, hour: int) -> float:
    """Fraction of full-production load in local ``hour`` of local ``day`` for a shift pattern."""
    factors = _HOURLY[shift]
    weekday = date.fromordinal(day + 719_163).weekday()  # 719163 = date(1970, 1, 1).toordinal()
    if weekday < 5:
        return factors[hour]
    idle = min(factors)
    keep = _WEEKEND[shift][weekday - 5]
    return idle + (factors[hour] - idle) * keep


def season(carrier: str, month: int) -> float:
    """Month factor of a carrier's load: summer cooling for power, winter heating for gas/steam."""
    if carrier == "electricity":
        return _SEASON_ELECTRICITY[month - 1]
    if carrier in ("natural_gas", "steam"):
        return _SEASON_HEAT[month - 1]
    return 1.0


@lru_cache(maxsize=512)
def solar_weights(day: int) -> tuple[float, ...]:
    """Relative PV output per local hour: sin(solar elevation) at the hour's middle, Lishui."""
    doy = date.fromordinal(day + 719_163).timetuple().tm_yday
    decl = math.radians(23.44) * math.sin(2 * math.pi * (284 + doy) / 365)
    weights = []
    for hour in range(24):
        omega = math.radians(15 * (hour + 0.5 - 12))
        sin_elev = math.sin(_LATITUDE) * math.sin(decl) + math.cos(_LATITUDE) * math.cos(
            decl
        ) * math.cos(omega)
        weights.append(max(0.0, sin_elev))
    return tuple(weights)


def _month(day: int) -> int:
    return date.fromordinal(day + 719_163).month


def _z(rng_values: Sequence[float]) -> float:
    """A roughly standard-normal draw from three uniforms (stable across Python versions)."""
    return (sum(rng_values) - 1.5) * 2.0


# ---------------------------------------------------------------------------------------------
# The register model: steps per day, per hour, per tick; all integers.


def day_steps(meter: Meter, seed: int, day: int) -> int:
    """Register steps (10**-decimals units, after the multiplier) counted on local ``day``."""
    rng = stream(seed, meter.id, "day", day)
    if meter.drive is Drive.SOLAR:
        cloud = (0.2 + rng.random() ** 0.7) / 0.788
        primary = meter.rate * _PV_YIELD[_month(day) - 1] * float(cloud)
    elif meter.drive is Drive.HYDRO:
        flow = max(0.5, 1.0 + 0.06 * _z([rng.random(), rng.random(), rng.random()]))
        primary = meter.rate * 24 * HYDRO_CF[_month(day) - 1] * flow
    elif meter.retrofit_from is not None:
        primary = _boiler_day(meter, seed, day)[0]
    else:
        hours = sum(load_factor(meter.shift, day, h) for h in range(24))
        noise = max(0.5, 1.0 + 0.08 * _z([rng.random(), rng.random(), rng.random()]))
        primary = meter.rate * hours * season(meter.carrier, _month(day)) * noise
    return round(primary / meter.multiplier * float(10**meter.decimals))


@lru_cache(maxsize=4096)
def _boiler_day(meter: Meter, seed: int, day: int) -> tuple[float, float]:
    """(Nm3 of gas, t of output) of a retrofitted boiler's enterprise on local ``day``.

    Output follows the shift pattern and season with the day's noise (the draws of any gas
    meter); gas = standby + specific consumption x output, less the saving from the retrofit's
    day on, with burner noise per day and a month's weather (feed water, losses: +-4 %) that
    the output does not explain, so the baseline fits well, not perfectly.
    """
    assert meter.retrofit_from is not None  # noqa: S101 - only retrofitted meters come here
    rng = stream(seed, meter.id, "day", day)
    hours = sum(load_factor(meter.shift, day, h) for h in range(24))
    noise = max(0.5, 1.0 + 0.08 * _z([rng.random(), rng.random(), rng.random()]))
    output = meter.rate * (1 - BOILER_STANDBY) * hours * season(meter.carrier, _month(day))
    output *= noise / BOILER_NM3_PER_T
    gas = meter.rate * BOILER_STANDBY * 24 + BOILER_NM3_PER_T * output
    if day >= meter.retrofit_from.toordinal() - 719_163:
        gas *= 1 - RETROFIT_SAVING
    burner = 1.0 + 0.03 * _z([rng.random(), rng.random(), rng.random()])
    when = date.fromordinal(day + 719_163)
    weather = stream(seed, meter.id, "month", when.year, when.month).uniform(0.96, 1.04)
    return gas * burner * weather, output


def output_until(meter: Meter, seed: int, first_day: int, ts: int) -> float:
    """A retrofitted boiler's output (t) from local day ``first_day`` to ``ts``: whole days, and
    today's output in the share of today's gas burnt by the hour of ``ts`` (linear within it)."""
    day = local_day(ts)
    total = sum(_boiler_day(meter, seed, d)[1] for d in range(first_day, day))
    if day < first_day:
        return 0.0
    hours = hour_steps(meter, seed, day)
    into = ts - day_start(day)
    burnt = sum(hours[: into // HOUR]) + hours[min(into // HOUR, 23)] * (into % HOUR) / HOUR
    return total + _boiler_day(meter, seed, day)[1] * burnt / max(1, sum(hours))


@lru_cache(maxsize=4096)
def hour_steps(meter: Meter, seed: int, day: int) -> tuple[int, ...]:
    """``day_steps`` split over the 24 local hours by the profile, with hourly noise."""
    total = day_steps(meter, seed, day)
    rng = stream(seed, meter.id, "hours", day)
    if meter.drive is Drive.SOLAR:
        shape = solar_weights(day)
    elif meter.drive is Drive.HYDRO:
        shape = (1.0,) * 24  # run of river: as steady as the flow
    else:
        shape = tuple(load_factor(meter.shift, day, h) for h in range(24))
    weights = [
        int(s * (1.0 + 0.1 * _z([rng.random(), rng.random(), rng.random()])) * 10_000)
        for s in shape
    ]
    return tuple(_apportion(total, [max(0, w) for w in weights]))


@dataclass(frozen=True, slots=True)
class HourDraws:
    """Everything drawn for one meter for one hour: tick split, quality flags, CEMS noise."""

    cumulative: tuple[int, ...]  # steps counted from the hour's start to tick j (0..n)
    weights: tuple[int, ...]  # tick weights, for instantaneous rates
    total_weight: int
    estimated: frozenset[int]  # ticks (1..n) whose reading is flagged 'estimated'
    noise: tuple[float, ...]  # per tick, in [-1, 1], for instantaneous values


def hour_draws(meter: Meter, seed: int, hour: int, interval: int, estimated_p: float) -> HourDraws:
    """The split of the hour ``hour`` (Unix hours) into ``3600 // interval`` ticks."""
    day = local_day(hour * HOUR)
    total = hour_steps(meter, seed, day)[(hour * HOUR + _OFFSET) % DAY // HOUR]
    n = HOUR // interval
    rng = stream(seed, meter.id, "ticks", hour, interval)
    weights = [1000 + int(300 * rng.random()) for _ in range(n)]
    estimated = frozenset(j for j in range(1, n + 1) if rng.random() < estimated_p)
    noise = tuple(2 * rng.random() - 1 for _ in range(n))
    increments = _apportion(total, weights)
    cumulative = [0]
    for inc in increments:
        cumulative.append(cumulative[-1] + inc)
    return HourDraws(tuple(cumulative), tuple(weights), sum(weights), estimated, noise)


def _apportion(total: int, weights: Sequence[int]) -> list[int]:
    """Split ``total`` into integers proportional to ``weights`` that sum to it exactly."""
    whole = sum(weights)
    if whole == 0:
        return [0] * (len(weights) - 1) + [total]
    parts = []
    done = running = 0
    for w in weights:
        running += w
        upto = total * running // whole
        parts.append(upto - done)
        done = upto
    return parts


def steps_until(meter: Meter, seed: int, ts: int, interval: int, anchor_day: int) -> int:
    """Signed register steps counted from the anchor day's 00:00 to the last tick at or before ts.

    The cost grows with the number of days between the anchor and ``ts``: one draw per day.
    """
    ts -= ts % interval
    day = local_day(ts)
    if day >= anchor_day:
        before = sum(day_steps(meter, seed, d) for d in range(anchor_day, day))
    else:
        before = -sum(day_steps(meter, seed, d) for d in range(day, anchor_day))
    into = ts - day_start(day)
    hours = hour_steps(meter, seed, day)
    within = sum(hours[: into // HOUR])
    if into % HOUR:
        hour = (ts - ts % HOUR) // HOUR
        within += hour_draws(meter, seed, hour, interval, 0.0).cumulative[into % HOUR // interval]
    return before + within


# ---------------------------------------------------------------------------------------------
# CEMS: instantaneous values consistent with what burns behind the stack (HJ 75-2017 terms).

ATMOSPHERE_PA = 101_325.0  # assumed ambient pressure Ba: ingest can recompute Qsn exactly
MG_PER_M3_PER_PERCENT_CO2 = 19_647.0  # 1 % v/v CO2 = 44/22.4 g/L x 10^4 (domain.md §3.4)


def stack_values(stack: Stack, driver_rate: float, nominal: float, noise: float) -> list[float]:
    """The six CEMS quantities (``CEMS_QUANTITIES`` order) for a stack at a firing rate.

    The CO2 mass rate is the driver's rate times ``co2_per_unit``; O2 rises as the burner turns
    down; the concentration follows from O2 (CO2 = co2_max x (20.9 - O2) / 20.9), the dry standard
    flow Qsn from mass / concentration, and the reported working flow Qs from Qsn by the inverse of
    HJ 75's Qsn = Qs x 273/(273+ts) x (Ba+Ps)/101325 x (1-Xsw). Recomputing the mass rate from the
    reported values (Ba = 101325 Pa) gives back the fuel's CO2.
    """
    load = max(0.0, driver_rate / nominal) if nominal > 0 else 0.0
    pressure = stack.pressure * (0.5 + 0.5 * min(load, 1.2)) + 5 * noise
    moisture = stack.moisture + 0.3 * noise
    if load < 0.02:  # burner off: ambient air drawn through a warm stack
        temperature = 35.0 + 3 * noise
        qsn = nominal * stack.co2_per_unit / 0.2 * 0.01 + 1.0
        return [
            800.0 + 20 * noise,
            20.6,
            _working_flow(qsn, temperature, pressure, moisture),
            temperature,
            pressure,
            moisture,
        ]
    o2 = stack.o2 + (20.9 - stack.o2) * 0.6 * max(0.0, 0.3 - load) / 0.3 + 0.1 * noise
    concentration = stack.co2_max * (20.9 - o2) / 20.9 * MG_PER_M3_PER_PERCENT_CO2
    co2_kg_h = driver_rate * stack.co2_per_unit
    qsn = co2_kg_h * 1e6 / concentration
    temperature = stack.temperature * (0.85 + 0.15 * min(load, 1.2)) + noise
    return [
        concentration,
        o2,
        _working_flow(qsn, temperature, pressure, moisture),
        temperature,
        pressure,
        moisture,
    ]


def _working_flow(qsn: float, temperature: float, pressure: float, moisture: float) -> float:
    factor = 273.0 / (273.0 + temperature) * (ATMOSPHERE_PA + pressure) / 101_325.0
    return qsn / (factor * (1.0 - moisture / 100.0))
