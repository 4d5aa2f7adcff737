"""The simulated city's economic data: monthly value added, revenue and output per enterprise.

A carbon-efficiency code needs value added (VA) beside emissions: L = tCO2 / 万元 VA, and the
grade compares L with the industry's aggregate L (K = L / L_industry, domain.md §5). So that the
simulated city's codes spread over grades 1-5 as a real city's do, each enterprise's VA is sized
from what its meters will book:

* its expected monthly emissions, estimated from its meters' mean rates and the load profiles
  (:func:`monthly_emissions`, with the default factors below: an estimate for sizing, not the
  account, which the ledger computes from readings and the factor library);
* the industry's typical L (:data:`TYPICAL_L`: cement, paper and chemicals high, electronics and
  machinery low; Lishui's industrial L is roughly 0.3-3 tCO2/万元);
* an efficiency factor per enterprise (a deterministic draw, log-uniform in
  :data:`EFFICIENCY_RANGE`), which is what sets its K against its peers;
* a small monthly wobble, so months differ.

Revenue follows from a value-added rate (工业增加值率, 20-32 %), output quantity from a unit
price per industry. Everything is a pure function of (city, month): exact Decimals rounded to
0.01 万元 and 0.001 output units, the same on every machine. Standard library only.
"""

from __future__ import annotations

import calendar
import math
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache

from .city import City, Enterprise, Meter, Shift, stream
from .profiles import load_factor, season

# tCO2 per 万元 value added typical of each GB/T 4754 class in the city (sizing targets).
TYPICAL_L: dict[str, Decimal] = {
    "3011": Decimal("2.6"),  # cement
    "2221": Decimal("1.8"),  # paper
    "2614": Decimal("1.5"),  # basic organic chemicals
    "1713": Decimal("1.2"),  # cotton dyeing and finishing
    "1752": Decimal("1.1"),
    "3075": Decimal("1.1"),  # celadon porcelain (gas kilns)
    "2925": Decimal("1.0"),  # synthetic leather
    "3130": Decimal("0.9"),  # stainless steel pipes
    "2021": Decimal("0.6"),
    "1372": Decimal("0.6"),
    "2710": Decimal("0.6"),
    "2740": Decimal("0.5"),
    "2041": Decimal("0.5"),
    "3311": Decimal("0.5"),
    "3972": Decimal("0.5"),  # semiconductors: power-hungry, but high value added
    "3443": Decimal("0.45"),
    "1530": Decimal("0.4"),
    "3670": Decimal("0.4"),
    "3424": Decimal("0.35"),
    "3982": Decimal("0.3"),  # electronic components
    "2459": Decimal("0.3"),
}
# The unit output is counted in, and its price in 元 per unit.
OUTPUT: dict[str, tuple[str, int]] = {
    "3011": ("t", 400),
    "2221": ("t", 5_000),
    "2614": ("t", 8_000),
    "1713": ("万米", 30_000),
    "1752": ("万米", 30_000),
    "3075": ("万件", 1_000_000),
    "2925": ("万米", 200_000),
    "3130": ("t", 20_000),
    "2021": ("m3", 3_000),
    "1372": ("t", 10_000),
    "2710": ("t", 200_000),
    "2740": ("万盒", 100_000),
    "2041": ("t", 6_000),
    "3311": ("t", 8_000),
    "3972": ("万片", 1_000_000),
    "3443": ("台", 500),
    "1530": ("t", 100_000),
    "3670": ("万件", 500_000),
    "3424": ("台", 20_000),
    "3982": ("万件", 200_000),
    "2459": ("万件", 200_000),
}
# Default factors for the sizing estimate only (domain.md §3): tCO2 per kWh, Nm3, t steam, t diesel.
_FACTORS: dict[str, float] = {
    "electricity": 0.5 / 1000,
    "natural_gas": 21.62 / 10_000,
    "steam": 2.8 * 0.11,  # ~2.8 GJ per t of process steam x 0.11 tCO2/GJ
    "diesel": 3.096,
}
EFFICIENCY_RANGE = (0.4, 2.6)  # an enterprise's L relative to its industry's typical L
_CENT = Decimal("0.01")
_MILLI = Decimal("0.001")


@dataclass(frozen=True, slots=True)
class EconomicMonth:
    """One enterprise's economic data for one calendar month (money in 万元)."""

    enterprise_code: str
    month: date  # first day of the month
    value_added: Decimal
    revenue: Decimal
    output_quantity: Decimal
    output_unit: str


def months(first: date, last: date) -> Iterator[date]:
    """First days of the months from ``first``'s month through ``last``'s, inclusive."""
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        yield date(year, month, 1)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def monthly_emissions(enterprise: Enterprise, meters: tuple[Meter, ...], month: date) -> float:
    """Estimated tCO2 the enterprise's metered purchases and fuels emit in ``month``."""
    total = 0.0
    for meter in meters:
        factor = _FACTORS.get(meter.carrier)
        if factor is None or not meter.cumulative:
            continue  # PV, heat and CEMS stacks do not add to the calculated account here
        hours = _production_hours(meter.shift, month.year, month.month)
        total += meter.rate * hours * season(meter.carrier, month.month) * factor
    return total


def economic_data(city: City, first: date, last: date) -> list[EconomicMonth]:
    """Every enterprise's months from ``first`` through ``last`` (deterministic)."""
    out = []
    by_enterprise: dict[str, list[Meter]] = defaultdict(list)
    for meter in city.meters:  # grouped once: a scan per enterprise is quadratic in the city
        by_enterprise[meter.enterprise_code].append(meter)
    for enterprise in city.enterprises:
        meters = tuple(by_enterprise[enterprise.code])
        rng = stream(city.seed, "economics", enterprise.code)
        low, high = EFFICIENCY_RANGE
        efficiency = math.exp(rng.uniform(math.log(low), math.log(high)))
        va_rate = rng.uniform(0.20, 0.32)
        target = float(TYPICAL_L[enterprise.industry_code]) * efficiency
        unit, price = OUTPUT[enterprise.industry_code]
        for month in months(first, last):
            wobble = stream(city.seed, "economics", enterprise.code, month.isoformat()).uniform(
                0.95, 1.05
            )
            va = monthly_emissions(enterprise, meters, month) / target * wobble
            value_added = Decimal(repr(va)).quantize(_CENT)
            revenue = (value_added / Decimal(repr(va_rate))).quantize(_CENT)
            output = (revenue * 10_000 / price).quantize(_MILLI)
            out.append(EconomicMonth(enterprise.code, month, value_added, revenue, output, unit))
    return out


@lru_cache(maxsize=256)
def _production_hours(shift: Shift, year: int, month: int) -> float:
    """Full-production-equivalent hours of a shift pattern in a month (load factor summed)."""
    first = date(year, month, 1).toordinal() - 719_163  # days since 1970-01-01
    days = calendar.monthrange(year, month)[1]
    return sum(
        load_factor(shift, day, hour) for day in range(first, first + days) for hour in range(24)
    )
