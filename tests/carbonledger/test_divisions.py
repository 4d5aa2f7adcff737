"""The packaged division lists: Zhejiang's 11 cities and 90 county-level divisions (2021+)."""

from __future__ import annotations

from carbonledger import divisions


def test_zhejiang_has_its_eleven_cities_and_ninety_counties() -> None:
    zhejiang = divisions.region("zhejiang")
    assert (zhejiang.name, zhejiang.code) == ("浙江省", "33")
    assert [c.code for c in zhejiang.cities] == [f"33{n:02}" for n in range(1, 12)]
    assert [len(c.counties) for c in zhejiang.cities] == [13, 10, 12, 7, 5, 6, 9, 6, 4, 9, 9]
    for city in zhejiang.cities:
        assert all(c.code.startswith(city.code) and c.city == city.name for c in city.counties)
    assert (
        len({c.code for c in zhejiang.counties}) == len({c.name for c in zhejiang.counties}) == 90
    )


def test_hangzhou_is_the_list_after_the_2021_reform() -> None:
    hangzhou = divisions.region("zhejiang").cities[0]
    assert {c.name: c.code for c in hangzhou.counties} == {
        "上城区": "330102", "拱墅区": "330105", "西湖区": "330106", "滨江区": "330108",
        "萧山区": "330109", "余杭区": "330110", "富阳区": "330111", "临安区": "330112",
        "临平区": "330113", "钱塘区": "330114", "桐庐县": "330122", "淳安县": "330127",
        "建德市": "330182",
    }  # fmt: skip
    assert divisions.county("下城区") is None and divisions.county("江干区") is None


def test_a_wrong_name_is_answered_with_the_nearest_names_not_the_list() -> None:
    assert divisions.not_a_county("萧山") == (
        "'萧山' is not a county-level division of 浙江省 (carbonledger/divisions/zhejiang.toml):"
        " did you mean 萧山区?"
    )
    assert divisions.not_a_county("舟山市") == (
        "'舟山市' is a prefecture-level city of 浙江省, not a county-level division: write one of"
        " its 4 divisions: 定海区, 普陀区, 岱山县, 嵊泗县"
    )
    assert divisions.not_a_county("Lishui").endswith(
        "write a district (区), county (县) or county-level city (市) as GB/T 2260 names it,"
        " e.g. 上城区"
    )
