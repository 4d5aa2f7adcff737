"""Administrative divisions (GB/T 2260) by region, as data files: the county-level divisions there
are, and the prefecture-level city each belongs to.

The registry records an enterprise's district by name and refuses a name that is no division
(domain.md §6); the simulator spreads a simulated province over the same divisions and puts each
county's code into its enterprises' credit codes (positions 3-8, :mod:`carbonledger.uscc`). One
list serves both, so a generated enterprise always has a district the registry accepts. A region
is a TOML file in this folder (``zhejiang.toml``): adding a province is adding a file.

Here, below the registry and the simulator, because both use it and ``import simulator`` must not
load a database driver (as ``accounts.registry`` would): standard library and pydantic only.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from carbonledger.errors import ConfigError
from carbonledger.tomlfile import describe, read_toml

_SUGGESTIONS = 3  # nearest names a message offers


@dataclass(frozen=True, slots=True)
class County:
    """A county-level division: district (区), county (县) or county-level city (市)."""

    code: str  # 6 digits, GB/T 2260
    name: str  # as the registry records an enterprise's district
    city: str  # the prefecture-level city's name


@dataclass(frozen=True, slots=True)
class Prefecture:
    """A prefecture-level city and its county-level divisions."""

    code: str  # 4 digits
    name: str
    weight: float  # rough share of the region's industrial enterprises (for the simulator)
    counties: tuple[County, ...]


@dataclass(frozen=True, slots=True)
class Region:
    """A province's division list, as read from ``<key>.toml``."""

    key: str  # the file's stem, e.g. zhejiang
    name: str  # 浙江省
    code: str  # 2 digits
    cities: tuple[Prefecture, ...]

    @property
    def counties(self) -> tuple[County, ...]:
        return tuple(county for city in self.cities for county in city.counties)


class _City(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(pattern=r"^[0-9]{4}$")
    name: str = Field(min_length=1)
    weight: float = Field(gt=0)
    counties: dict[str, str] = Field(min_length=1)

    @model_validator(mode="after")
    def _codes_under_the_city(self) -> _City:
        for code in self.counties:
            if len(code) != 6 or not code.isdigit() or not code.startswith(self.code):
                raise ValueError(
                    f"{self.name}: county code {code} is not 6 digits under {self.code}"
                )
        return self


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    code: str = Field(pattern=r"^[0-9]{2}$")
    city: list[_City] = Field(min_length=1)

    @model_validator(mode="after")
    def _one_meaning_per_name(self) -> _File:
        """A district is recorded by name, so a name must say which division it is."""
        names = [c.name for c in self.city] + [n for c in self.city for n in c.counties.values()]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"names listed twice: {', '.join(twice)}")
        stray = [c.code for c in self.city if not c.code.startswith(self.code)]
        if stray:
            raise ValueError(f"city codes not under {self.code}: {', '.join(stray)}")
        return self


@cache
def regions() -> dict[str, Region]:
    """Every packaged region by key; a bad file is a ConfigError naming file:line:key."""
    folder = resources.files("carbonledger") / "divisions"
    found = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            path = Path(str(entry))
            found[path.stem] = _read(path)
    return found


def region(key: str) -> Region:
    try:
        return regions()[key]
    except KeyError:
        raise ConfigError(
            f"no division list for region {key!r}; known: {', '.join(regions())}"
        ) from None


def county(name: str) -> County | None:
    """The county-level division of any region called ``name``, if there is one."""
    return _counties_by_name().get(name)


def not_a_county(name: str) -> str:
    """Why ``name`` is no district, for the clerk who typed it: its city's list or the nearest."""
    lists = " or ".join(
        f"{r.name} (carbonledger/divisions/{key}.toml)" for key, r in regions().items()
    )
    for r in regions().values():
        for city in r.cities:
            if name in (city.name, city.name.removesuffix("市")):
                return (
                    f"{name!r} is a prefecture-level city of {r.name}, not a county-level"
                    f" division: write one of its {len(city.counties)} divisions:"
                    f" {', '.join(c.name for c in city.counties)}"
                )
    near = difflib.get_close_matches(name, _counties_by_name(), n=_SUGGESTIONS, cutoff=0.5)
    hint = (
        f"did you mean {' or '.join(near)}?"
        if near
        else "write a district (区), county (县) or county-level city (市) as GB/T 2260 names it,"
        f" e.g. {next(iter(_counties_by_name()))}"
    )
    return f"{name!r} is not a county-level division of {lists}: {hint}"


@cache
def _counties_by_name() -> dict[str, County]:
    return {c.name: c for r in regions().values() for c in r.counties}


def _read(path: Path) -> Region:
    text, values = read_toml(path)
    try:
        parsed = _File.model_validate(values)
    except ValidationError as exc:
        raise ConfigError(describe(exc, path, text, "invalid division list")) from exc
    cities = tuple(
        Prefecture(
            city.code,
            city.name,
            city.weight,
            tuple(County(code, name, city.name) for code, name in city.counties.items()),
        )
        for city in parsed.city
    )
    return Region(path.stem, parsed.name, parsed.code, cities)
