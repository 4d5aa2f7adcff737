"""Live refresh, the emissions_15m view, grades at the band boundaries."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from fractions import Fraction

import psycopg
import pytest

from accounts.ledger import Period, explain_account, get_account, grade_history, refresh_live
from accounts.ledger._grading import Standing, band_set, grade, grade_rows
from tests.accounts.ledger.helpers import DYEING, PARTS, economics, local, rollup

NOW = local("2026-11-20 10:00")


def test_month_to_date_follows_new_rollups(conn: psycopg.Connection) -> None:
    rollup(conn, "prt-el1", "energy_import", local("2026-11-02 10:00"), "2000")
    economics(conn, PARTS, "2026-11-01", "10", None)
    refresh_live(conn, now=NOW)
    mtd = get_account(conn, PARTS, Period.mtd(NOW), now=NOW)
    assert mtd.status == "live" and mtd.period.kind == "mtd"
    assert mtd.totals.total == Decimal("0.9948")  # 2000 kWh x 0.4974 / 1000
    # value added: 10 万元 for November x 19.4166.. / 30 days elapsed (to 2026-11-20 10:00)
    # = 10 x (19 x 24 + 10) / (30 x 24) = 10 x 466 / 720 = 6.472222...
    assert mtd.economics.value_added.value == Decimal("6.472222222222")
    assert mtd.economics.value_added.basis.startswith("estimated")
    rollup(conn, "prt-el1", "energy_import", local("2026-11-20 09:30"), "1000")
    later = local("2026-11-20 10:00:05")
    refresh_live(conn, now=later)
    mtd = get_account(conn, PARTS, Period.mtd(later), now=later)
    assert mtd.totals.total == Decimal("1.4922")  # 3000 kWh x 0.4974 / 1000
    year = get_account(conn, PARTS, Period.parse("2026", later), now=later)
    assert year.status == "live" and year.totals.total == Decimal("1.4922")
    # the live view agrees with the account, bucket by bucket
    row = conn.execute(
        "SELECT sum(tco2), sum(tce_equivalent), min(factor_id) FROM emissions_15m"
        " WHERE enterprise_code = %s",
        (PARTS,),
    ).fetchone()
    assert row == (Decimal("1.4922"), Decimal("0.3687"), "grid.zhejiang.2023@1")
    grades = {g.model: g for g in mtd.grades}
    # alone in its industry: K = 1 -> grade 3; L = 1.4922 / 6.4722... = 0.23055... -> 低碳
    assert grades["huzhou"].grade == 3 and grades["huzhou"].level == "低碳"
    assert "month-to-date estimate" in grades["huzhou"].label
    assert grades["quzhou-colour"].colour == "浅绿"  # K = 1.0 is inside 浅绿 (<= 1.0)
    assert {(g.period_kind, g.model) for g in grade_history(conn, PARTS)} >= {
        ("mtd", "huzhou"),
        ("rolling12", "huzhou"),
        ("year", "huzhou"),
    }
    derivation = explain_account(conn, PARTS, Period.mtd(later), now=later)
    assert derivation.totals[-2].value == Decimal("0.3687")  # 3000 x 0.0001229 (当量值)
    assert derivation.totals[-1].value == Decimal("0.9093")  # 3000 x 0.0003031 (等价值)


def _standing(code: str, tco2: str, va: str | None, revenue: str | None = None) -> Standing:
    return Standing(
        code,
        "3011",
        Decimal(tco2),
        Decimal(va) if va else None,
        Decimal(revenue) if revenue else None,
        1,
    )


@pytest.mark.parametrize(
    ("k", "expected"),
    [
        ("0.6", 1),
        ("0.6000001", 2),
        ("0.8", 2),
        ("1.2", 3),
        ("1.2000001", 4),
        ("2.0", 4),
        ("2.0000001", 5),
        ("0", 1),
    ],
)
def test_grade_bands_are_inclusive_upper_bounds(k: str, expected: int) -> None:
    assert band_set("huzhou-2021").grade_of(Fraction(k)) == expected


@pytest.mark.parametrize(
    ("l_value", "expected"), [("0.6", "低碳"), ("0.61", "中碳"), ("2.0", "中碳"), ("2.01", "高碳")]
)
def test_levels_at_the_boundaries(l_value: str, expected: str) -> None:
    assert band_set("huzhou-2021").level_of(Fraction(l_value)) == expected


def test_industry_l_is_an_aggregate_ratio_and_k_hits_the_boundaries() -> None:
    # industry: E = 6 + 14 + 20 + 0 = 40 t, VA = 10 + 10 + 10 + 10 = 40 万元 -> industry L = 1
    # (the mean of the ratios would be (0.6 + 1.4 + 2.0 + 0) / 4 = 1.0 too: make it differ by
    # adding a fifth enterprise with E = 8, VA = 40: industry L = 48 / 80 = 0.6, mean of ratios
    # (0.6 + 1.4 + 2.0 + 0 + 0.2) / 5 = 0.84)
    standings = [
        _standing("A", "6", "10"),
        _standing("B", "14", "10"),
        _standing("C", "20", "10"),
        _standing("D", "0", "10"),
        _standing("E", "8", "40"),
        _standing("F", "3", None, "10"),
    ]
    out = {
        g.enterprise_code: g
        for g in grade(
            standings,
            period_kind="year",
            period_start=date(2026, 1, 1),
            live=False,
            bands=band_set("huzhou-2021"),
        )
    }
    assert out["A"].industry_l == Decimal("0.6")
    # K = 0.6 / 0.6 = 1 -> 3; 1.4 / 0.6 = 2.333 -> 5; 2.0 / 0.6 = 3.33 -> 5; 0 -> 1; 0.2/0.6 -> 1
    assert [out[c].grade for c in "ABCDE"] == [3, 5, 5, 1, 1]
    assert [out[c].level for c in "ABCDE"] == ["低碳", "中碳", "中碳", "低碳", "低碳"]
    # F has revenue only: L = 3 / 10 = 0.3 against the industry's revenue ratio (F alone)
    assert out["F"].basis == "revenue" and out["F"].k_value == Decimal(1)
    assert out["F"].level is None and "revenue basis" in out["F"].label
    # exactly K = 0.6, 0.8, 1.2 and 2.0 in one industry: VA 10 万元 each and E = 6, 8, 12, 20, 4 t
    # -> industry L = 50 / 50 = 1, so K = L = 0.6, 0.8, 1.2, 2.0, 0.4 (upper bounds inclusive)
    exact = grade(
        [
            _standing("P", "6", "10"),
            _standing("Q", "8", "10"),
            _standing("R", "12", "10"),
            _standing("S", "20", "10"),
            _standing("T", "4", "10"),
        ],
        period_kind="month",
        period_start=date(2026, 10, 1),
        live=False,
        bands=band_set("huzhou-2021"),
    )
    assert [(g.k_value, g.grade, g.level) for g in exact] == [
        (Decimal("0.6"), 1, "低碳"),  # L = 0.6: 低碳 (inclusive)
        (Decimal("0.8"), 2, "中碳"),
        (Decimal("1.2"), 3, "中碳"),
        (Decimal("2"), 4, "中碳"),  # L = 2.0: still 中碳
        (Decimal("0.4"), 1, "低碳"),
    ]
    assert [g.code_text for g in exact] == ["低碳1级", "中碳2级", "中碳3级", "中碳4级", "低碳1级"]


def test_the_colour_model_steps_down_when_l_rose_on_a_year_earlier() -> None:
    # industry L = (7 + 10 + 15 + 16) / 40 = 1.2; K = 7/10/1.2 = 0.583 (深绿), 0.833 (浅绿),
    # 1.25 (黄), 1.333 (黄); U's L 1.5 was 1.6 a year earlier (fell), V's 1.6 was 1.4 (+14.3%:
    # more than 10% worse, one step towards red)
    standings = [
        _standing("S", "7", "10"),
        _standing("T", "10", "10"),
        Standing("U", "3011", Decimal(15), Decimal(10), None, 1, previous_l=Decimal("1.6")),
        Standing("V", "3011", Decimal(16), Decimal(10), None, 1, previous_l=Decimal("1.4")),
    ]
    out = grade(
        standings,
        period_kind="year",
        period_start=date(2026, 1, 1),
        live=False,
        bands=band_set("quzhou-colour-ours-1"),
    )
    assert [(g.colour, g.grade, g.level) for g in out] == [
        ("深绿", None, None),
        ("浅绿", None, None),
        ("黄", None, None),
        ("红", None, None),
    ]
    assert "one step down: L +14.3% on a year earlier" in out[3].label


def test_one_enterprise_without_a_factor_stops_no_other(conn: psycopg.Connection) -> None:
    rollup(conn, "dye-gas1", "gas_volume", local("2026-11-02 10:00"), "1000")
    rollup(conn, "prt-el1", "energy_import", local("2026-11-02 10:00"), "2000")
    conn.execute("DELETE FROM factors WHERE kind = 'fuel'")
    result = refresh_live(conn, now=NOW)
    assert list(result.failed) == [DYEING]
    assert "no default NCV for natural_gas" in result.failed[DYEING]
    assert get_account(conn, PARTS, Period.mtd(NOW), now=NOW).totals.total == Decimal("0.9948")


def test_grading_the_exact_pairs_unreduced_gives_the_rows_of_the_fractions() -> None:
    # a stored account's figures reach grading as (numerator, denominator) pairs, not reduced
    # and (a negative value added) with the sign anywhere: the rows must be those of Fractions
    figures = [("A", "7/3", "10/7", None), ("B", "5/2", "-4/9", "3"), ("C", "11/5", None, "9/4")]
    figures += [("D", "1/3", "0", "2/3"), ("E", "0", "5", None), ("F", "2", None, None)]

    def as_fraction(text: str | None) -> Fraction | None:
        return None if text is None else Fraction(text)

    def as_pair(text: str | None) -> tuple[int, int] | None:
        if text is None:
            return None
        n, d = Fraction(text).as_integer_ratio()
        return (-6 * n, -6 * d) if n % 2 else (6 * n, 6 * d)  # unreduced, some signs swapped

    def standings(exact: Callable[[str | None], object]) -> list[Standing]:
        return [
            Standing(c, "3011", exact(e), exact(va), exact(rev), 1, previous_l=Decimal("0.5"))  # type: ignore[arg-type]
            for c, e, va, rev in figures
        ]

    def rows(exact: Callable[[str | None], object]) -> list[tuple[object, ...]]:
        return grade_rows(
            standings(exact),
            period_kind="year",
            period_start=date(2026, 1, 1),
            live=False,
            models=[band_set("huzhou-2021"), band_set("quzhou-colour-ours-1")],
        )

    expected = rows(as_fraction)
    assert rows(as_pair) == expected
    assert {r[13] for r in expected if r[0] == "B"} != {r[13] for r in expected if r[0] == "C"}
    assert [r[9] for r in expected[:6]] == [5, 1, 3, 1, 1, None]  # K 2.02, < 0, ..., none
