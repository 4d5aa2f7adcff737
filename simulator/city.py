"""A deterministic model of Lishui's metered key enterprises: who they are and what they meter.

The platform has to be exercised with a city that looks like the real one (domain.md §6): codes that
pass the GB 32100 check, the nine county-level districts (or, to size the platform for a province,
Zhejiang's 90 across its 11 cities: :mod:`.regions`), a GB/T 4754 industry mix with the heavy
emitters the bureau watches, and meters that behave like field meters (CT multipliers, DL/T 645
registers that roll over, CEMS stacks on the big boilers and kilns). Everything here is pure data
built from a seed, so two runs, a test and a demo see the same city; :mod:`.simulation` turns it
into readings.

Each enterprise is generated from its own random stream (seed, index), so the first *n* enterprises
of a city of 50 are the city of *n*: a small test city is a prefix of the demo city.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

from carbonledger import divisions, uscc
from carbonledger.errors import ConfigError
from carbonledger.wire import QUANTITIES

from .regions import District, Region, province


class Shift(StrEnum):
    """How an industry runs (the load profile is in :mod:`.profiles`)."""

    CONTINUOUS = "continuous"  # three shifts, 24/7: kilns, paper machines, reactors, fabs
    TWO_SHIFT = "two_shift"  # 06:00-22:00: textiles, metals, ceramics
    DAY = "day"  # 08:00-17:30 with a lunch break: assembly, machinery, food


class Drive(StrEnum):
    """What drives a meter's rate over the day."""

    PRODUCTION = "production"  # the enterprise's shift pattern
    SOLAR = "solar"  # the sun over Lishui (28.45°N)
    HYDRO = "hydro"  # a run-of-river small hydro station: steady, wet in spring and summer


# Weights: rough shares of industrial output; 莲都 (with the development zone) and 缙云 lead.
DISTRICTS: tuple[District, ...] = (
    District("莲都区", "331102", "丽水市", 0.26),
    District("缙云县", "331122", "缙云县", 0.17),
    District("青田县", "331121", "青田县", 0.13),
    District("龙泉市", "331181", "龙泉市", 0.11),
    District("遂昌县", "331123", "遂昌县", 0.08),
    District("松阳县", "331124", "松阳县", 0.08),
    District("云和县", "331125", "云和县", 0.07),
    District("庆元县", "331126", "庆元县", 0.06),
    District("景宁畲族自治县", "331127", "景宁", 0.04),
)
# The demo city, and the default: its industry clusters (Industry.affinity) name its districts.
LISHUI = Region("lishui", DISTRICTS)


def region_names() -> tuple[str, ...]:
    """Where a city can be: Lishui, or a province of a packaged division list (zhejiang)."""
    return (LISHUI.name, *divisions.regions())


def region(name: str) -> Region:
    if name == LISHUI.name:
        return LISHUI
    if name not in divisions.regions():
        raise ConfigError(f"no simulated region {name!r}; choose from {', '.join(region_names())}")
    return province(name)


@dataclass(frozen=True, slots=True)
class Industry:
    """A GB/T 4754-2017 class with the energy use of a medium-sized plant in it.

    Rates are means during full production: electricity kW, natural gas Nm3/h, purchased steam t/h,
    diesel t/day. ``*_p`` is the probability that an enterprise of the industry has that meter.
    ``cems`` is the probability of a monitored stack: ``kiln`` for cement (coal-fired, driven by
    production), ``boiler`` for a gas boiler or thermal-oil heater (driven by its gas meter).
    """

    code: str
    label: str  # the industry word in company names
    weight: float  # prevalence among supervised enterprises
    shift: Shift
    kw: float
    gas: float = 0.0
    gas_p: float = 0.0
    steam: float = 0.0
    steam_p: float = 0.0
    diesel: float = 0.0
    diesel_p: float = 0.0
    pv_p: float = 0.3
    cems: str = ""
    cems_p: float = 0.0
    large_p: float = 0.12
    small_p: float = 0.35
    affinity: dict[str, float] = field(default_factory=dict)  # district name -> weight factor


_C, _T, _D = Shift.CONTINUOUS, Shift.TWO_SHIFT, Shift.DAY
# fmt: off
INDUSTRIES: tuple[Industry, ...] = (
    Industry("3011", "水泥", 3, _C, 4000, diesel=2.0, diesel_p=0.9, cems="kiln", cems_p=1.0,
             large_p=0.5, small_p=0.0, affinity={"遂昌县": 2, "龙泉市": 1.5}),
    Industry("1713", "印染", 4, _T, 800, gas=150, gas_p=0.6, steam=8, steam_p=1.0,
             diesel=0.05, diesel_p=0.2, pv_p=0.5, affinity={"莲都区": 2, "缙云县": 1.5}),
    Industry("1752", "染整", 3, _T, 700, gas=120, gas_p=0.6, steam=6, steam_p=1.0, pv_p=0.5),
    Industry("2221", "纸业", 3, _C, 2500, gas=800, gas_p=0.7, steam=10, steam_p=0.4,
             diesel=0.2, diesel_p=0.3, cems="boiler", cems_p=0.8, small_p=0.2,
             affinity={"遂昌县": 2, "龙泉市": 1.5}),
    Industry("2614", "化工", 4, _C, 1500, gas=300, gas_p=0.6, steam=8, steam_p=0.8,
             diesel=0.1, diesel_p=0.3, cems="boiler", cems_p=0.5, small_p=0.3,
             affinity={"莲都区": 2, "青田县": 1.5}),
    Industry("2710", "制药", 2, _C, 900, gas=100, gas_p=0.4, steam=5, steam_p=1.0,
             affinity={"莲都区": 2.5}),
    Industry("2740", "药业", 2, _D, 300, gas=60, gas_p=0.5, steam=2, steam_p=0.8,
             affinity={"莲都区": 1.5, "遂昌县": 1.5}),
    Industry("2925", "合成革", 5, _T, 600, gas=200, gas_p=0.8, steam=3, steam_p=0.5, pv_p=0.4,
             affinity={"莲都区": 3}),
    Industry("3130", "不锈钢管业", 5, _T, 1500, gas=400, gas_p=0.9, diesel=0.3, diesel_p=0.5,
             pv_p=0.5, affinity={"松阳县": 5, "青田县": 3}),
    Industry("3311", "钢结构", 3, _D, 300, gas=30, gas_p=0.3, diesel=0.2, diesel_p=0.6,
             pv_p=0.4, affinity={"缙云县": 2, "遂昌县": 2}),
    Industry("3443", "阀门", 5, _T, 400, gas=80, gas_p=0.6, diesel=0.1, diesel_p=0.3, pv_p=0.5,
             affinity={"青田县": 4, "莲都区": 1.5}),
    Industry("3424", "机械", 4, _D, 300, gas=20, gas_p=0.2, diesel=0.05, diesel_p=0.3, pv_p=0.5,
             affinity={"缙云县": 5}),
    Industry("3670", "汽车部件", 4, _T, 500, gas=60, gas_p=0.5, pv_p=0.6,
             affinity={"龙泉市": 4, "莲都区": 1.5}),
    Industry("3972", "半导体", 2, _C, 2000, gas=50, gas_p=0.5, small_p=0.2,
             affinity={"莲都区": 4}),
    Industry("3982", "电子", 4, _D, 300, pv_p=0.5, affinity={"莲都区": 2, "缙云县": 1.5}),
    Industry("1372", "食用菌", 3, _D, 200, gas=40, gas_p=0.4, steam=1.5, steam_p=0.7,
             diesel=0.05, diesel_p=0.3, affinity={"庆元县": 6, "景宁畲族自治县": 2}),
    Industry("1530", "茶业", 3, _D, 100, gas=40, gas_p=0.7,
             affinity={"松阳县": 5, "遂昌县": 2, "景宁畲族自治县": 3}),
    Industry("2041", "竹业", 3, _D, 150, steam=1.0, steam_p=0.4, diesel=0.05, diesel_p=0.4,
             affinity={"庆元县": 4, "龙泉市": 2, "遂昌县": 2}),
    Industry("2021", "木业", 3, _T, 400, steam=3, steam_p=0.7, diesel=0.1, diesel_p=0.5,
             affinity={"云和县": 2, "龙泉市": 2}),
    Industry("2459", "玩具", 3, _D, 150, gas=10, gas_p=0.2, pv_p=0.4, affinity={"云和县": 8}),
    Industry("3075", "青瓷", 2, _T, 200, gas=100, gas_p=0.9, affinity={"龙泉市": 8}),
)
# fmt: on
INDUSTRY_BY_CODE = {industry.code: industry for industry in INDUSTRIES}

# kg CO2 per Nm3 of natural gas: 21.62 tCO2/10^4 Nm3 (domain.md §3.1, GB/T 32150 defaults).
GAS_CO2_PER_NM3 = 2.162
# kg CO2 per kWh a cement plant draws: ~100 kWh and ~0.55 t CO2 (fuel + calcination) per t cement.
KILN_CO2_PER_KWH = 5.5

SIZE_FACTOR = {"large": 4.0, "medium": 1.0, "small": 0.3}
_TAG = slice(8, 17)  # a credit code's organisation code: the ids' tag

# Two-character trade names (字号) for generated companies; combined with the industry they stay
# unique, and none is meant to be a real company.
_TRADE_NAMES = tuple(
    "瓯江括苍仙都南明白云紫金百山凤阳月山好川石门丽阳万象金沙青林华翔恒丰永盛"
    "丰源宏达瑞丰鑫达中天江南荣昌卓越天宁东升兴业汇通博远嘉和长兴新宇润泽"
    "明辉泰和合力正泰德胜振华金鹰天成龙腾松源竹韵云峰清源绿洲春晖秀山"[i : i + 2]
    for i in range(0, 102, 2)
)


@dataclass(frozen=True, slots=True)
class Enterprise:
    code: str  # unified social credit code, 18 characters, valid check character
    name: str
    industry_code: str  # GB/T 4754-2017 class, 4 digits
    district: str
    size_class: str  # large / medium / small

    @property
    def industry(self) -> Industry:
        return INDUSTRY_BY_CODE[self.industry_code]


@dataclass(frozen=True, slots=True)
class Gateway:
    id: str
    enterprise_code: str


@dataclass(frozen=True, slots=True)
class Stack:
    """A CEMS-monitored stack and what burns behind it (see :func:`.profiles.stack_values`).

    ``driver`` is the meter whose rate sets the firing rate; ``co2_per_unit`` converts the driver's
    primary units to kg CO2 (2.162 kg/Nm3 for natural gas, domain.md §3.1; for a cement kiln, kg CO2
    per kWh of the plant's electricity, calcination included). ``co2_max`` is the CO2 % v/v (dry) of
    the flue gas at 0 % O2: 11.7 for natural gas, about 30 for a kiln where calcination adds CO2.
    """

    driver: str
    fuel: str  # natural_gas | coal_kiln
    co2_per_unit: float
    co2_max: float
    o2: float  # % v/v at full load
    temperature: float  # degC at full load
    moisture: float  # % v/v
    pressure: float  # Pa, static (induced draft: negative)
    calibration_minute: int  # daily zero/span check starts at this local minute of the day


@dataclass(frozen=True, slots=True)
class Meter:
    """A metered point as the registry holds it, plus what the simulation needs to drive it.

    For cumulative meters the register counts primary units divided by ``multiplier`` (CT x PT
    ratio), with ``decimals`` places, and rolls over to zero at ``register_max``: the value
    ``register_max`` itself reads as 0, so a delta across one rollover is
    ``current + register_max - previous`` exactly. ``rate`` is the mean primary rate at full
    production (kW, Nm3/h, t/h, or kWp for PV); ``initial`` is the register at the simulation's
    anchor. CEMS meters (carrier ``flue_gas``) have ``stack`` set and no register.
    """

    id: str
    enterprise_code: str
    gateway_id: str
    carrier: str
    quantity: str
    unit: str
    multiplier: int = 1
    register_max: Decimal | None = None
    decimals: int = 2
    rate: float = 0.0
    drive: Drive = Drive.PRODUCTION
    shift: Shift = Shift.DAY
    initial: Decimal = Decimal(0)
    rollover_prone: bool = False  # starts close to register_max (see build_city)
    stack: Stack | None = None
    retrofit_from: date | None = None  # a gas boiler retrofitted on this local day (profiles)

    @property
    def cumulative(self) -> bool:
        return self.stack is None

    @property
    def register_counts(self) -> int:
        """register_max in register steps (10**-decimals)."""
        assert self.register_max is not None  # noqa: S101 - cumulative meters always have one
        return int(self.register_max.scaleb(self.decimals))


@dataclass(frozen=True, slots=True)
class City:
    seed: int
    enterprises: tuple[Enterprise, ...]
    gateways: tuple[Gateway, ...]
    meters: tuple[Meter, ...]

    def meters_of(self, gateway_id: str) -> tuple[Meter, ...]:
        return tuple(m for m in self.meters if m.gateway_id == gateway_id)

    def meter(self, meter_id: str) -> Meter:
        for m in self.meters:
            if m.id == meter_id:
                return m
        raise KeyError(meter_id)

    def readings_per_tick(self) -> int:
        """Readings one tick produces with no faults: 1 per register, 6 per CEMS stack."""
        return sum(1 if m.cumulative else len(CEMS_QUANTITIES) for m in self.meters)

    def summary(self) -> dict[str, Any]:
        """Counts for people (``carbonledger simulate city``)."""
        return {
            "seed": self.seed,
            "enterprises": len(self.enterprises),
            "gateways": len(self.gateways),
            "meters": len(self.meters),
            "readings_per_tick": self.readings_per_tick(),
            "by_district": dict(Counter(e.district for e in self.enterprises).most_common()),
            "by_industry": dict(
                Counter(
                    f"{e.industry_code} {e.industry.label}" for e in self.enterprises
                ).most_common()
            ),
            "by_size": dict(Counter(e.size_class for e in self.enterprises).most_common()),
            "meters_by_carrier": dict(Counter(m.carrier for m in self.meters).most_common()),
            "multipliers": dict(sorted(Counter(m.multiplier for m in self.meters).items())),
            "rollover_prone": sum(m.rollover_prone for m in self.meters),
        }


CEMS_QUANTITIES = (
    "co2_concentration",
    "o2_concentration",
    "flue_gas_flow",
    "flue_gas_temperature",
    "flue_gas_pressure",
    "flue_gas_moisture",
)


def stream(seed: int, *parts: object) -> random.Random:
    """An independent, reproducible random stream for ``(seed, *parts)``.

    ``random.Random(int)`` and ``random()`` are the parts of :mod:`random` that Python promises to
    keep stable across versions, and the key is hashed with BLAKE2 (not ``hash()``, which is salted
    per process), so the city and its readings are the same on every machine and run.
    """
    key = "|".join(str(p) for p in (seed, *parts)).encode()
    return random.Random(int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big"))


def build_city(enterprises: int, seed: int, where: str = LISHUI.name) -> City:
    """The simulated city: ``enterprises`` enterprises, one gateway each, and their meters.

    ``where`` is a region (:func:`region_names`): Lishui's nine districts by default, or a
    province such as ``zhejiang``, with the same industry mix and meters per enterprise.
    """
    if enterprises < 1:
        raise ValueError("a city needs at least one enterprise")
    districts = region(where)
    made: list[Enterprise] = []
    gateways: list[Gateway] = []
    meters: list[Meter] = []
    tags: set[str] = set()
    names: set[str] = set()
    for index in range(enterprises):
        rng = stream(seed, "enterprise", index)
        enterprise = _enterprise(rng, districts, tags, names)
        gateway = Gateway(f"gw-{enterprise.code[8:]}", enterprise.code)
        made.append(enterprise)
        gateways.append(gateway)
        meters.extend(_extras(seed, enterprise, gateway, _meters(rng, enterprise, gateway)))
    return City(seed, tuple(made), tuple(gateways), tuple(meters))


def _enterprise(rng: random.Random, where: Region, tags: set[str], names: set[str]) -> Enterprise:
    district = rng.choices(where.districts, weights=where.weights)[0]
    industry = rng.choices(
        INDUSTRIES, weights=[i.weight * i.affinity.get(district.name, 1.0) for i in INDUSTRIES]
    )[0]
    roll = rng.random()
    size = "medium"
    if roll < industry.large_p:
        size = "large"
    elif roll > 1 - industry.small_p:
        size = "small"
    # Gateway and meter ids carry the organisation code (positions 9-17), not the division:
    # it must be unique across districts, which a unique whole code is not.
    code = _credit_code(rng, district)
    while code[_TAG] in tags:
        code = _credit_code(rng, district)
    tags.add(code[_TAG])
    name = _name(rng, district, industry, size)
    while name in names:
        name = _name(rng, district, industry, size, numbered=True)
    names.add(name)
    return Enterprise(code, name, industry.code, district.name, size)


def _credit_code(rng: random.Random, district: District) -> str:
    """91 (market regulation, enterprise) + region + a GB 11714 organisation code + check."""
    if rng.random() < 0.4:  # registered after 2015: "MA" series organisation codes
        alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
        body = "MA" + "".join(rng.choice(alphabet) for _ in range(6))
    else:
        body = "".join(rng.choice("0123456789") for _ in range(8))
    return uscc.make_code(f"91{district.region_code}{body}{uscc.organization_code_check(body)}")


def _name(
    rng: random.Random, district: District, industry: Industry, size: str, numbered: bool = False
) -> str:
    prefix = "浙江" if size == "large" and rng.random() < 0.6 else district.short
    trade = rng.choice(_TRADE_NAMES)
    if numbered:
        trade += rng.choice("一二三四五六七八九")
    form = "股份有限公司" if size == "large" and rng.random() < 0.5 else "有限公司"
    return f"{prefix}{trade}{industry.label}{form}"


def _meters(rng: random.Random, e: Enterprise, gw: Gateway) -> list[Meter]:
    """The enterprise's meters; the draws are made in a fixed order so a seed gives one city."""
    industry = e.industry
    scale = SIZE_FACTOR[e.size_class] * rng.uniform(0.6, 1.6)
    tag = e.code[_TAG]
    meters = _electricity(rng, e, gw, tag, industry.kw * scale)
    meters += _fuels(rng, e, gw, tag, scale)
    if rng.random() < industry.pv_p:
        kwp = max(30.0, round(industry.kw * scale * rng.uniform(0.15, 0.6), -1))
        meters.append(_pv(rng, e, gw, tag, kwp))
    has_gas = any(m.carrier == "natural_gas" for m in meters)
    if industry.cems and rng.random() < industry.cems_p and (industry.cems == "kiln" or has_gas):
        if industry.cems == "kiln":  # the kiln follows the plant; el1 carries part of its load
            driver = meters[0]
            factor = KILN_CO2_PER_KWH * industry.kw * scale / driver.rate
        else:
            driver = next(m for m in meters if m.carrier == "natural_gas")
            factor = GAS_CO2_PER_NM3
        meters.append(
            _cems(rng, e, gw, tag, kind=industry.cems, driver=driver.id, co2_per_unit=factor)
        )
    return meters


# Lishui's small hydro: the Ou river's upper reaches and their tributaries (瓯江, 龙泉溪, 小溪).
HYDRO_DISTRICTS = frozenset({"龙泉市", "遂昌县", "云和县", "庆元县", "景宁畲族自治县", "青田县"})
HYDRO_P = 0.15  # share of enterprises there that run a small hydro station
RETROFIT_P = 0.25  # share of gas meters whose boiler was retrofitted
RETROFIT_FROM = date(2026, 1, 1)  # the retrofit's start: 2025 is the baseline year


def _extras(seed: int, e: Enterprise, gw: Gateway, meters: list[Meter]) -> list[Meter]:
    """Boiler retrofits and small hydro stations, from streams of their own.

    Drawn after (and apart from) the enterprise's stream, so adding them changed no other meter
    of any city: a retrofitted gas meter keeps its id, rate and register, only its profile
    follows production (:func:`.profiles.day_steps`); a hydro station is one meter more.
    """
    out = [
        replace(m, retrofit_from=RETROFIT_FROM)
        if m.carrier == "natural_gas" and stream(seed, "retrofit", m.id).random() < RETROFIT_P
        else m
        for m in meters
    ]
    rng = stream(seed, "hydro", e.code)
    if e.district in HYDRO_DISTRICTS and rng.random() < HYDRO_P:
        kw = round(rng.uniform(300.0, 2_000.0), -1)  # small hydro: well under 50 MW
        out.append(_generator(rng, e, gw, f"m-{e.code[_TAG]}-hy1", kw=kw, drive=Drive.HYDRO))
    return out


# Fuel meters by id suffix: carrier, quantity, register_max, decimals.
_FUELS = {
    "gas1": ("natural_gas", "gas_volume", Decimal("100000000"), 2),
    "stm1": ("steam", "steam_mass", Decimal("10000000"), 2),
    "dsl1": ("diesel", "diesel_mass", Decimal("100000"), 3),
}


def _fuels(rng: random.Random, e: Enterprise, gw: Gateway, tag: str, scale: float) -> list[Meter]:
    """Natural gas, purchased steam and diesel, each with the industry's probability.

    A plant whose gas boiler is its CEMS stack raises its own steam, so it buys none.
    """
    industry = e.industry
    meters = []
    has_gas = bool(industry.gas) and rng.random() < industry.gas_p
    if has_gas:
        meters.append(_fuel(rng, e, gw, tag, "gas1", rate=industry.gas * scale))
    own_boiler = industry.cems == "boiler" and has_gas and rng.random() < 0.7
    if industry.steam and rng.random() < industry.steam_p and not own_boiler:
        meters.append(_fuel(rng, e, gw, tag, "stm1", rate=industry.steam * scale))
    if industry.diesel and rng.random() < industry.diesel_p:  # rated in t/day, metered per hour
        meters.append(_fuel(rng, e, gw, tag, "dsl1", rate=industry.diesel * scale / 24))
    return meters


def _fuel(
    rng: random.Random, e: Enterprise, gw: Gateway, tag: str, suffix: str, *, rate: float
) -> Meter:
    carrier, quantity, register_max, decimals = _FUELS[suffix]
    return _register(
        rng,
        e,
        gw,
        f"m-{tag}-{suffix}",
        carrier=carrier,
        quantity=quantity,
        rate=rate,
        register_max=register_max,
        decimals=decimals,
    )


def _electricity(
    rng: random.Random, e: Enterprise, gw: Gateway, tag: str, kw: float
) -> list[Meter]:
    """1-3 incomers sharing the load: one for small plants, up to three transformers for large."""
    count = {"small": 1, "medium": rng.choice((1, 1, 2)), "large": rng.choice((2, 3))}[e.size_class]
    shares = [rng.uniform(0.5, 1.5) for _ in range(count)]
    total = sum(shares)
    return [
        _register(
            rng,
            e,
            gw,
            f"m-{tag}-el{n}",
            carrier="electricity",
            quantity="energy_import",
            rate=kw * share / total,
            register_max=Decimal("1000000"),
            multiplier=_ct_pt(kw * share / total),
        )
        for n, share in enumerate(shares, start=1)
    ]


def _ct_pt(kw: float) -> int:
    """The CT x PT ratio a meter of this load would have in the field.

    Up to ~60 kW meters are direct-connected; up to ~800 kW they sit behind a low-voltage CT
    (x/5 A, current ~1.6 A per kW at 400 V); above that the plant is metered at 10 kV, so the
    multiplier is CT ratio x PT ratio 100 (10 kV/100 V).
    """
    if kw <= 60:
        return 1
    if kw <= 800:
        amps = kw * 1.6 * 1.25
        return _rating(amps, (150, 200, 300, 400, 600, 800, 1000, 1500, 2000, 2500)) // 5
    amps = kw * 0.064 * 1.25
    return _rating(amps, (50, 75, 100, 150, 200, 300, 400, 600, 800, 1000, 1500)) // 5 * 100


def _rating(amps: float, ratings: tuple[int, ...]) -> int:
    """The smallest standard CT primary rating that carries ``amps``."""
    return next((r for r in ratings if r >= amps), ratings[-1])


def _register(
    rng: random.Random,
    e: Enterprise,
    gw: Gateway,
    meter_id: str,
    *,
    carrier: str,
    quantity: str,
    rate: float,
    register_max: Decimal,
    decimals: int = 2,
    multiplier: int = 1,
    drive: Drive = Drive.PRODUCTION,
) -> Meter:
    """A cumulative meter; about a quarter of electricity meters start near the register's end.

    Those roll over a few hours to three weeks after the simulation's anchor, so a month-long run
    always exercises the rollover path; the others start in the lower half of the register, well
    away from the top, so a reset (drop to ~0) can never be mistaken for a rollover.
    """
    steps_max = int(register_max.scaleb(decimals))
    per_day = rate * 24 * 0.6 / multiplier * 10**decimals  # register steps per average day
    prone = rng.random() < (0.25 if carrier == "electricity" else 0.05)
    if prone:
        start = steps_max - int(per_day * rng.uniform(0.2, 20.0))
        start = max(start, steps_max // 2)
    else:
        start = int(rng.uniform(0.0, 0.5) * steps_max)
    return Meter(
        id=meter_id,
        enterprise_code=e.code,
        gateway_id=gw.id,
        carrier=carrier,
        quantity=quantity,
        unit=QUANTITIES[quantity].unit,
        multiplier=multiplier,
        register_max=register_max,
        decimals=decimals,
        rate=rate,
        drive=drive,
        shift=e.industry.shift,
        initial=Decimal(start).scaleb(-decimals),
        rollover_prone=prone,
    )


def _pv(rng: random.Random, e: Enterprise, gw: Gateway, tag: str, kwp: float) -> Meter:
    return _generator(rng, e, gw, f"m-{tag}-pv1", kw=kwp, drive=Drive.SOLAR)


def _generator(
    rng: random.Random, e: Enterprise, gw: Gateway, meter_id: str, *, kw: float, drive: Drive
) -> Meter:
    """A generation meter. The registry's on-site generation carrier is ``pv`` (booked by
    ``energy_generated``, zero-emission): a hydro station's meter is registered under it too."""
    return _register(
        rng,
        e,
        gw,
        meter_id,
        carrier="pv",
        quantity="energy_generated",
        rate=kw,
        register_max=Decimal("1000000"),
        multiplier=_ct_pt(kw),
        drive=drive,
    )


@dataclass(frozen=True, slots=True)
class _StackKind:
    """What a kind of monitored stack burns and the ranges its operating point is drawn from."""

    fuel: str
    co2_max: float  # % v/v dry at 0 % O2
    o2: tuple[float, float]
    temperature: tuple[float, float]
    moisture: tuple[float, float]
    pressure: tuple[float, float]


_STACK_KINDS = {
    # coal-fired kiln behind a bag filter; CO2 from fuel and calcination
    "kiln": _StackKind("coal_kiln", 30.0, (8.5, 10.5), (110, 140), (8, 12), (-400, -150)),
    # natural-gas boiler or thermal-oil heater with an economiser
    "boiler": _StackKind("natural_gas", 11.7, (3.0, 4.5), (85, 130), (14, 17), (-250, -60)),
}


def _cems(
    rng: random.Random,
    e: Enterprise,
    gw: Gateway,
    tag: str,
    *,
    kind: str,
    driver: str,
    co2_per_unit: float,
) -> Meter:
    spec = _STACK_KINDS[kind]
    stack = Stack(  # keyword order is draw order: keep it, or every city's stacks change
        driver,
        spec.fuel,
        co2_per_unit=co2_per_unit,
        co2_max=spec.co2_max,
        o2=rng.uniform(*spec.o2),
        temperature=rng.uniform(*spec.temperature),
        moisture=rng.uniform(*spec.moisture),
        pressure=rng.uniform(*spec.pressure),
        calibration_minute=rng.randrange(60, 300),
    )
    return Meter(
        id=f"m-{tag}-cems1",
        enterprise_code=e.code,
        gateway_id=gw.id,
        carrier="flue_gas",
        quantity="co2_concentration",
        unit="mg/m3",
        register_max=None,
        drive=Drive.PRODUCTION,
        shift=e.industry.shift,
        stack=stack,
    )
