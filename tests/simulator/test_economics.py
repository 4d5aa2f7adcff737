"""The simulated city's economic data: deterministic, plausible, and spread over grades 1-5."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date
from decimal import Decimal

import psycopg

from simulator import build_city
from simulator.city import INDUSTRY_BY_CODE
from simulator.economics import OUTPUT, TYPICAL_L, economic_data, monthly_emissions
from simulator.registry import register_city, register_economics


def grade(k: float) -> int:
    """The Huzhou bands (domain.md §5), upper bounds inclusive."""
    for level, bound in ((1, 0.6), (2, 0.8), (3, 1.2), (4, 2.0)):
        if k <= bound:
            return level
    return 5


def test_every_industry_has_a_typical_intensity_and_an_output_unit() -> None:
    assert set(TYPICAL_L) == set(INDUSTRY_BY_CODE) == set(OUTPUT)
    assert all(Decimal("0.3") <= value <= Decimal(3) for value in TYPICAL_L.values())


def test_deterministic_and_a_small_city_is_a_prefix_of_the_big_one() -> None:
    big = economic_data(build_city(10, 2026), date(2025, 1, 1), date(2025, 3, 1))
    again = economic_data(build_city(10, 2026), date(2025, 1, 1), date(2025, 3, 1))
    small = economic_data(build_city(3, 2026), date(2025, 1, 1), date(2025, 3, 1))
    assert big == again
    assert big[: len(small)] == small
    for m in big:
        assert 0.2 <= m.value_added / m.revenue <= 0.32 + 1e-4  # value-added rate, rounded
        unit, price = OUTPUT[next(e for e in build_city(10, 2026).enterprises
                                  if e.code == m.enterprise_code).industry_code]  # fmt: skip
        assert m.output_unit == unit
        assert m.output_quantity == (m.revenue * 10_000 / price).quantize(Decimal("0.001"))


def test_the_demo_city_spreads_over_all_five_grades_with_plausible_intensities() -> None:
    city = build_city(50, 2026)
    va: dict[str, Decimal] = defaultdict(Decimal)
    for m in economic_data(city, date(2025, 1, 1), date(2025, 12, 1)):
        va[m.enterprise_code] += m.value_added
    emissions = {
        e.code: sum(
            monthly_emissions(e, tuple(m for m in city.meters if m.enterprise_code == e.code),
                              date(2025, month, 1))
            for month in range(1, 13)
        )
        for e in city.enterprises
    }  # fmt: skip
    by_industry: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for e in city.enterprises:
        by_industry[e.industry_code][0] += emissions[e.code]
        by_industry[e.industry_code][1] += float(va[e.code])
    intensity = {e.code: emissions[e.code] / float(va[e.code]) for e in city.enterprises}
    grades = Counter(
        grade(
            intensity[e.code] / (by_industry[e.industry_code][0] / by_industry[e.industry_code][1])
        )
        for e in city.enterprises
    )
    assert set(grades) == {1, 2, 3, 4, 5}, grades
    assert min(intensity.values()) > 0.1 and max(intensity.values()) < 8
    cement = [intensity[e.code] for e in city.enterprises if e.industry_code == "3011"]
    electronics = [intensity[e.code] for e in city.enterprises if e.industry_code == "3982"]
    assert cement and electronics
    assert sum(cement) / len(cement) > 3 * sum(electronics) / len(electronics)


def test_register_writes_size_classes_and_months_idempotently(db_url: str) -> None:
    city = build_city(3, 2026)
    with psycopg.connect(db_url) as conn:
        register_city(conn, city)
        conn.execute(  # an enterprise's own submission is never overwritten by the simulator
            "INSERT INTO economic_data (enterprise_code, period_kind, period_start, value_added,"
            " source) VALUES (%s, 'month', '2026-10-01', 1.5, 'enterprise')",
            (city.enterprises[0].code,),
        )
        conn.commit()
        # January 2025 through October 2026: 22 months, plus the year 2025, per enterprise
        assert register_economics(conn, city, date(2026, 10, 20)) == 3 * 23 - 1
        assert register_economics(conn, city, date(2026, 10, 20)) == 0
        sizes = conn.execute("SELECT code, size_class FROM enterprises ORDER BY code").fetchall()
        own = conn.execute(
            "SELECT value_added, source FROM economic_data WHERE period_start = '2026-10-01'"
            " AND enterprise_code = %s",
            (city.enterprises[0].code,),
        ).fetchone()
        years = conn.execute(
            "SELECT y.value_added, sum(m.value_added), y.revenue, sum(m.revenue)"
            " FROM economic_data y JOIN economic_data m USING (enterprise_code)"
            " WHERE y.period_kind = 'year' AND m.period_kind = 'month'"
            " AND m.period_start BETWEEN '2025-01-01' AND '2025-12-01'"
            " GROUP BY y.enterprise_code, y.value_added, y.revenue"
        ).fetchall()
    assert sizes == sorted((e.code, e.size_class) for e in city.enterprises)
    assert own == (Decimal("1.5"), "enterprise")
    assert len(years) == 3
    assert all(y_va == m_va and y_rev == m_rev for y_va, m_va, y_rev, m_rev in years)
