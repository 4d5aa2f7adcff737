"""A province-sized city: Zhejiang's 11 cities, its counties' codes, accepted by the registry."""

from __future__ import annotations

import dataclasses
import hashlib
from collections import Counter

import psycopg
import pytest

from carbonledger import divisions, uscc
from carbonledger.errors import ConfigError
from launcher.cli import main
from simulator.city import DISTRICTS, Drive, build_city, region_names
from simulator.registry import register_city

# build_city(50, 1) as it was before regions existed: the default city must not move.
_LISHUI_50_1 = (
    "a7c342047407c98e4e1b7442f3f03a44a48910c662d8bad3b895ffbc5f1b1737",
    "24a2aff00b860065c0a6dc061a3cb5597099f123be7f95ad3a4ed0a84afc1aa3",
)


def test_the_default_city_is_lishui_as_before() -> None:
    city = build_city(50, 1)
    enterprises = "\n".join("|".join(dataclasses.astuple(e)) for e in city.enterprises)
    # Issue 17 added small hydro stations and boiler retrofits from streams of their own: the
    # meters there were before are the same, field for field (retrofit_from is the new last one).
    before = [m for m in city.meters if m.drive is not Drive.HYDRO]
    meters = "\n".join(repr(dataclasses.astuple(m)[:-1]) for m in before)
    assert (_sha(enterprises), _sha(meters)) == _LISHUI_50_1
    assert len(city.meters) - len(before) == 6  # hydro stations
    assert sum(m.retrofit_from is not None for m in before) == 9  # their profile follows output
    assert build_city(50, 1, "lishui") == city


def test_lishui_districts_are_zhejiang_divisions_of_the_same_code() -> None:
    for d in DISTRICTS:
        county = divisions.county(d.name)
        assert county is not None and (county.code, county.city) == (d.region_code, "丽水市")


def test_a_zhejiang_city_spans_the_province_with_its_counties_codes() -> None:
    city = build_city(2_000, 2026, "zhejiang")
    assert city == build_city(2_000, 2026, "zhejiang")
    assert build_city(100, 2026, "zhejiang").enterprises == city.enterprises[:100]
    by_city: Counter[str] = Counter()
    for e in city.enterprises:
        uscc.validate(e.code)
        county = divisions.county(e.district)
        assert county is not None
        assert e.code[uscc.DIVISION] == county.code
        by_city[county.city] += 1
    province = divisions.region("zhejiang")
    assert set(by_city) == {c.name for c in province.cities}
    assert by_city.most_common(1)[0][0] == "宁波市" and by_city.most_common()[-1][0] == "舟山市"
    for ids in ([e.code[8:17] for e in city.enterprises], [m.id for m in city.meters]):
        assert len(set(ids)) == len(ids)
    assert len({e.name for e in city.enterprises}) == len(city.enterprises)


def test_the_province_keeps_the_industry_mix_and_meters_per_enterprise() -> None:
    lishui, zhejiang = build_city(2_000, 5), build_city(2_000, 5, "zhejiang")
    for city in (lishui, zhejiang):
        assert 2.5 < len(city.meters) / len(city.enterprises) < 3.2
    heavy = {"3011", "2221", "2614"}
    share = [
        sum(e.industry_code in heavy for e in c.enterprises) / 2_000 for c in (lishui, zhejiang)
    ]
    assert abs(share[0] - share[1]) < 0.03


def test_an_unknown_region_is_refused_with_the_known_ones() -> None:
    assert region_names() == ("lishui", "zhejiang")
    with pytest.raises(ConfigError, match="choose from lishui, zhejiang"):
        build_city(5, 1, "jiangsu")


def test_a_zhejiang_city_registers_through_the_registry(db_url: str) -> None:
    city = build_city(2_000, 11, "zhejiang")
    with psycopg.connect(db_url) as conn:
        assert register_city(conn, city) == (2_000, 2_000, len(city.meters))
        assert register_city(conn, city) == (0, 0, 0)
        rows = conn.execute(
            "SELECT count(*), count(DISTINCT district), count(DISTINCT substr(code, 3, 4))"
            " FROM enterprises"
        ).fetchone()
    assert rows == (2_000, len({e.district for e in city.enterprises}), 11)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_the_region_setting_and_flag_choose_the_city(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CARBONLEDGER_SIMULATOR__REGION", "zhejiang")
    assert main(["simulate", "city", "--enterprises", "3", "--seed", "2026"]) == 0
    assert "by district:   奉化区 1, 宁海县 1, 天台县 1" in capsys.readouterr().out
    assert main(["simulate", "city", "--enterprises", "3", "--region", "lishui"]) == 0
    assert "奉化区" not in capsys.readouterr().out
