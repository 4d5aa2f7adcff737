"""Each reduction method on hand-built inputs, every figure computed by hand (in the comments)
or by an independent tool (numpy.linalg.lstsq for the regression)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest

from carbonledger.tz import SHANGHAI
from projects._methods import compute
from projects._model import MeterRole, Method, MethodParams
from projects._ols import fit, judge
from projects._rules import rules
from tests.projects.helpers import inputs, project

AS_OF = datetime(2026, 12, 4, 12, 0, tzinfo=SHANGHAI)
MARCH, FEB = date(2026, 3, 1), date(2026, 2, 1)

# Baseline of a boiler retrofit: monthly gas (Nm3) against production (t), 2025-01..2025-12.
X = [10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32]
Y_GOOD = [1520, 1580, 1710, 1790, 1920, 1980, 2110, 2190, 2320, 2380, 2510, 2590]
Y_BAD = [1900, 1200, 2000, 1500, 2300, 1600, 2400, 1900, 2700, 2000, 2800, 2300]
BASE_MONTHS = [date(2025, m, 1) for m in range(1, 13)]


def test_ols_by_hand_and_by_numpy() -> None:
    """n = 12, Σx = 252, Σy = 24600, Σx² = 5864, Σxy = 545020.
    b = (12·545020 − 252·24600) / (12·5864 − 252²) = 341040 / 6864 = 7105/143 ≈ 49.685315
    a = (24600 − b·252) / 12 = 143945/143 ≈ 1006.608392
    SSE = 420900/143 ≈ 2943.3566, SST = 1415000, R² = 1 − SSE/SST = 2019241/2023450 ≈ 0.997920
    CV(RMSE) = √(SSE/10) / 2050 ≈ 0.008369; NMBE = 0 (OLS with an intercept)."""
    model = fit([Fraction(x) for x in X], [Fraction(y) for y in Y_GOOD])
    assert model.slope == Fraction(7105, 143)
    assert model.intercept == Fraction(143945, 143)
    assert model.sse == Fraction(420900, 143)
    assert model.sst == 1415000
    assert model.r2 == Fraction(2019241, 2023450)
    assert model.mean == 2050
    assert model.nmbe == 0
    assert model.cv_rmse() == Decimal("0.008369")
    a, b = np.linalg.lstsq(np.vstack([np.ones(12), X]).T, np.array(Y_GOOD, float), rcond=None)[0]
    assert float(model.intercept) == pytest.approx(a, rel=1e-12)
    assert float(model.slope) == pytest.approx(b, rel=1e-12)
    assert judge(model, rules().monthly).accepted


def test_a_noisy_baseline_fails_the_thresholds() -> None:
    """Same driver, y = Y_BAD: b = 6100/143 ≈ 42.657343, a = 165050/143 ≈ 1154.195804,
    R² ≈ 0.414677 < 0.75 and CV(RMSE) ≈ 0.186974 > 0.15 (ASHRAE Guideline 14, monthly)."""
    model = fit([Fraction(x) for x in X], [Fraction(y) for y in Y_BAD])
    assert model.slope == Fraction(6100, 143)
    assert model.intercept == Fraction(165050, 143)
    assert float(model.r2 or 0) == pytest.approx(0.4146769565, rel=1e-9)
    assert model.cv_rmse(4) == Decimal("0.1870")
    verdict = judge(model, rules().monthly)
    assert not verdict.accepted
    assert verdict.failures == ("CV(RMSE) 0.1870 > 0.15", "R² 0.4147 < 0.75")


def test_generation_is_net_generation_times_the_named_grid_factor() -> None:
    """March 2026: PV 12,000 kWh, own use 500 kWh; net 11,500 kWh = 11.5 MWh.
    Zhejiang average factor: data year 2023 (the latest published by 2026-12): 0.4974 tCO2/MWh.
    11.5 × 0.4974 = 5.7201 tCO2."""
    p = project(
        Method.GENERATION, MethodParams(), {"pv": MeterRole.GENERATION, "aux": MeterRole.OWN_USE}
    )
    found = compute(
        inputs(
            p,
            [("pv", MeterRole.GENERATION, "pv", "kWh"),
             ("aux", MeterRole.OWN_USE, "electricity", "kWh")],
            [("pv", MARCH, 12000), ("aux", MARCH, 500)],
            AS_OF,
        ),
        [MARCH],
        "2026-03",
        rules(),
    )  # fmt: skip
    (month,) = found.months
    assert month.reduction == Fraction("5.7201")
    assert month.factors[0].id == "grid.zhejiang.2023"
    assert month.coverage == 1 and month.flags == ()
    assert found.expected == Fraction(1200, 12)  # one month of the declared 1200 t/a


def test_generation_uses_the_factor_published_by_the_day_of_computation() -> None:
    """Computed on 2025-06-01 the 2023 factor (published 2025-12-31) is not out yet: 2022's
    0.5153 applies: 11.5 × 0.5153 = 5.92595 tCO2."""
    p = project(Method.GENERATION, MethodParams(), {"pv": MeterRole.GENERATION},
                start_of_operation=date(2025, 1, 1))  # fmt: skip
    found = compute(
        inputs(p, [("pv", MeterRole.GENERATION, "pv", "kWh")], [("pv", date(2025, 3, 1), 11500)],
               datetime(2025, 6, 1, tzinfo=SHANGHAI)),
        [date(2025, 3, 1)], "2025-03", rules(),
    )  # fmt: skip
    assert found.months[0].reduction == Fraction("5.92595")


def _retrofit(y: list[int], reported: int, driver: int) -> object:
    params = MethodParams(
        baseline_from=date(2025, 1, 1), baseline_to=date(2025, 12, 1), driver="production"
    )
    p = project(Method.IPMVP_C, params, {"gas": MeterRole.MEASURED},
                area="energy_saving", subcategory="industrial_efficiency")  # fmt: skip
    activity = [("gas", m, v) for m, v in zip(BASE_MONTHS, y, strict=True)]
    drivers = {m: Fraction(x) for m, x in zip(BASE_MONTHS, X, strict=True)}
    drivers[MARCH] = Fraction(driver)
    return compute(
        inputs(p, [("gas", MeterRole.MEASURED, "natural_gas", "Nm3")],
               [*activity, ("gas", MARCH, reported)], AS_OF, drivers=drivers),
        [MARCH], "2026-03", rules(),
    )  # fmt: skip


def test_ipmvp_adjusts_the_baseline_to_the_month_and_prices_the_saving() -> None:
    """March 2026, production 20 t: adjusted baseline = 143945/143 + 7105/143 × 20
    = 286045/143 ≈ 2000.3147 Nm3; metered 1,500 Nm3; saving = 71545/143 ≈ 500.3147 Nm3.
    Natural gas: 389.31 GJ/10⁴Nm3 × 15.3 tC/TJ × 0.99 × 44/12 / 10⁷ = 0.0021621888... tCO2/Nm3
    (the table's 21.62 tCO2/10⁴Nm3); reduction ≈ 500.3147 × 0.00216219 ≈ 1.081775 tCO2."""
    found = _retrofit(Y_GOOD, 1500, 20)
    (month,) = found.months  # type: ignore[attr-defined]
    gas = Fraction("389.31") * Fraction("15.3") * Fraction("0.99") * Fraction(44, 12) / 10**7
    assert month.reduction == Fraction(71545, 143) * gas
    assert round(float(month.reduction), 6) == 1.081775
    saving = next(line for line in month.lines if line.name == "saving")
    assert saving.value == Fraction(71545, 143)
    assert found.baseline.accepted  # type: ignore[attr-defined]


def test_ipmvp_claims_nothing_on_a_refused_baseline() -> None:
    found = _retrofit(Y_BAD, 1500, 20)
    (month,) = found.months  # type: ignore[attr-defined]
    assert month.reduction is None
    assert "baseline_rejected" in month.flags
    assert not found.baseline.accepted  # type: ignore[attr-defined]


def _switch(month: date, diesel: int, kwh: int) -> object:
    params = MethodParams(baseline_from=date(2026, 1, 1), baseline_to=date(2026, 1, 1))
    p = project(Method.FUEL_SWITCH, params, {"oil": MeterRole.AFFECTED, "hp": MeterRole.AFFECTED},
                area="carbon_reduction_tech", subcategory="fuel_switching")  # fmt: skip
    return compute(
        inputs(p, [("oil", MeterRole.AFFECTED, "diesel", "t"),
                   ("hp", MeterRole.AFFECTED, "electricity", "kWh")],
               [("oil", date(2026, 1, 1), 31), ("hp", date(2026, 1, 1), 0),
                ("oil", month, diesel), ("hp", month, kwh)], AS_OF),
        [month], f"{month:%Y-%m}", rules(),
    )  # fmt: skip


def test_fuel_switch_is_the_change_in_emissions_against_the_baseline() -> None:
    """Baseline January 2026 (744 h): 31 t diesel, 0 kWh. March (744 h): 0 t, 93,000 kWh.
    Diesel: 42.652 × 20.2 × 0.98 × 44/12 / 1000 = 3.0959096373 tCO2/t; avoided 31 t → 95.973199 t.
    Electricity: 93 MWh × 0.4974 = 46.2582 t added. Reduction = 95.973199 − 46.2582 = 49.714999."""
    found = _switch(MARCH, 0, 93000)
    diesel = Fraction("42.652") * Fraction("20.2") * Fraction("0.98") * Fraction(44, 12) / 1000
    (month,) = found.months  # type: ignore[attr-defined]
    assert month.reduction == 31 * diesel - Fraction("46.2582")
    assert round(float(month.reduction), 6) == 49.714999


def test_fuel_switch_prorates_the_baseline_to_the_month_length() -> None:
    """February (672 h): baseline diesel = 31 t × 672/744 = 28 t; all of it avoided, nothing
    added: 28 × 3.0959096373 = 86.685470 tCO2."""
    found = _switch(FEB, 0, 0)
    diesel = Fraction("42.652") * Fraction("20.2") * Fraction("0.98") * Fraction(44, 12) / 1000
    assert found.months[0].reduction == 28 * diesel  # type: ignore[attr-defined]


def test_the_live_month_is_flagged_and_prorated() -> None:
    """December 2026 at 2026-12-04 12:00 local: 3.5 of 31 days elapsed."""
    p = project(Method.GENERATION, MethodParams(), {"pv": MeterRole.GENERATION})
    dec = date(2026, 12, 1)
    found = compute(
        inputs(p, [("pv", MeterRole.GENERATION, "pv", "kWh")], [("pv", dec, 1000)], AS_OF,
               covered_ms=int(3.5 * 86_400_000)),
        [dec], "mtd", rules(),
    )  # fmt: skip
    (month,) = found.months
    assert month.share == Fraction(7, 62)
    assert month.flags == ("live",)
    assert month.reduction == Fraction("0.4974")
    assert found.expected == Fraction(1200) * Fraction(7, 62) / 12


def test_months_before_operation_are_not_reported() -> None:
    p = project(Method.GENERATION, MethodParams(), {"pv": MeterRole.GENERATION},
                start_of_operation=date(2026, 6, 15))  # fmt: skip
    found = compute(
        inputs(p, [("pv", MeterRole.GENERATION, "pv", "kWh")], [], AS_OF),
        [date(2026, m, 1) for m in range(1, 13)], "2026", rules(),
    )  # fmt: skip
    assert [m.month.month for m in found.months] == [6, 7, 8, 9, 10, 11, 12]
    assert all("no_readings:pv" in m.flags for m in found.months)
