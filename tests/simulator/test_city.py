"""The simulated city: deterministic, valid against the registry's constraints, plausible."""

from __future__ import annotations

import re

from carbonledger import uscc
from carbonledger.wire import QUANTITIES
from simulator.city import DISTRICTS, build_city

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
_CARRIERS = {"electricity", "natural_gas", "steam", "heat", "diesel", "pv", "flue_gas"}


def test_same_seed_same_city_and_prefix_property() -> None:
    assert build_city(30, 7) == build_city(30, 7)
    assert build_city(30, 7) != build_city(30, 8)
    small, big = build_city(5, 7), build_city(30, 7)
    assert big.enterprises[:5] == small.enterprises
    assert set(small.meters) <= set(big.meters)


def test_city_satisfies_registry_constraints() -> None:
    city = build_city(200, 2026)
    codes = [e.code for e in city.enterprises]
    assert len(set(codes)) == len(codes)
    for e in city.enterprises:
        uscc.validate(e.code)
        assert e.code[2:8] == next(d.region_code for d in DISTRICTS if d.name == e.district)
        assert re.fullmatch(r"[0-9]{4}", e.industry_code)
        assert e.name.endswith("公司")
    gateway_ids = {g.id for g in city.gateways}
    assert len(gateway_ids) == len(city.enterprises)
    assert all(_ID.fullmatch(g) for g in gateway_ids)
    meter_ids = [m.id for m in city.meters]
    assert len(set(meter_ids)) == len(meter_ids)
    for m in city.meters:
        assert _ID.fullmatch(m.id)
        assert m.carrier in _CARRIERS
        assert QUANTITIES[m.quantity].unit == m.unit
        assert m.gateway_id in gateway_ids and m.multiplier > 0
        if m.cumulative:
            assert m.register_max is not None and 0 <= m.initial < m.register_max
    assert {e.district for e in city.enterprises} == {d.name for d in DISTRICTS}


def test_city_has_the_meters_the_platform_must_handle() -> None:
    city = build_city(50, 2026)
    carriers = {m.carrier for m in city.meters}
    assert carriers >= {"electricity", "natural_gas", "steam", "diesel", "pv", "flue_gas"}
    assert any(m.multiplier >= 40 for m in city.meters)
    assert any(m.rollover_prone for m in city.meters)
    assert city.readings_per_tick() == sum(1 if m.cumulative else 6 for m in city.meters)
