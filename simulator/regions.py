"""Where a simulated city's enterprises are: the districts, their codes and how many go to each.

The demo city is Lishui's nine districts with hand-set weights (:data:`.city.DISTRICTS`, next to
the industry clusters that name them). A province-sized city is built from a division list of
:mod:`carbonledger.divisions`, the list the registry checks districts against, so every
generated district is one the registry accepts and every credit code carries its county's code.
"""

from __future__ import annotations

from dataclasses import dataclass

from carbonledger import divisions


@dataclass(frozen=True, slots=True)
class District:
    name: str
    region_code: str  # GB/T 2260 code of the county-level division
    short: str  # as it appears in company names
    weight: float  # share of the city's key industrial enterprises (roughly industrial output)


@dataclass(frozen=True, slots=True)
class Region:
    name: str
    districts: tuple[District, ...]

    @property
    def weights(self) -> list[float]:
        return [d.weight for d in self.districts]


def province(key: str) -> Region:
    """A province of :mod:`carbonledger.divisions`: ``zhejiang`` is its 11 cities' 90 counties.

    Its enterprises go to its cities by the data file's weights, and a city's share is split
    equally between its counties: the file holds no finer figure, and a province-sized benchmark
    needs the spread, not the exact county shares.
    """
    return Region(
        key,
        tuple(
            District(c.name, c.code, _short(c), city.weight / len(city.counties))
            for city in divisions.region(key).cities
            for c in city.counties
        ),
    )


def _short(county: divisions.County) -> str:
    """How a company name starts there: 宁波鄞州 in a city district, else the county (景宁 for
    an autonomous county), as local registrations commonly read."""
    if county.name.endswith("区"):
        return county.city.removesuffix("市") + county.name.removesuffix("区")
    if county.name.endswith("自治县"):
        return county.name[:2]
    return county.name
