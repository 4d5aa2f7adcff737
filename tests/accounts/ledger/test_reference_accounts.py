"""Hand-computed reference accounts: every figure below is worked out in the comments.

Factors (accounts/ledger/factors): Zhejiang grid 2023 0.4974 tCO2/MWh (the latest data year for
2026); natural gas NCV 389.31 GJ/10^4Nm3, CC 15.3 tC/TJ, OF 0.99; diesel 42.652 GJ/t, 20.2, 0.98;
heat 0.11 tCO2/GJ, steam default enthalpy 2777.1 kJ/kg - 83.74; tce: electricity 0.1229 kgce/kWh
(当量值), 0.3031 (等价值 2023), gas 1.2143 kgce/Nm3, diesel 1.4571 kgce/kg, steam 0.1286 kgce/kg.

The accounts are computed from plain inputs (no database); test_read_path.py checks that the
read path gives these inputs and the same accounts.
"""

from __future__ import annotations

from decimal import Decimal

from accounts.ledger import Account, Period
from accounts.ledger._compute import compute_account
from accounts.ledger._inputs import AccountInputs, EconomicRow, MonthActivity
from tests.accounts.ledger.helpers import (
    CEMENT,
    DYEING,
    PARTS,
    economic_row,
    enterprise,
    library,
    local,
    month_activity,
)

NOW = local("2026-11-05 10:00")
OCT = Period.parse("2026-10", NOW)
LIBRARY = library()


def dyeing_inputs() -> AccountInputs:
    """Electricity 1000.5 + 499.5 = 1500 kWh, gas 1000 Nm3, diesel 2 t, steam 10 t in October;
    the buckets of 2026-09-30 23:45 +08 and 2026-11-01 00:00 +08 are outside the local month."""
    at = local("2026-10-10 08:00")
    electricity = [(local("2026-10-01 00:00"), "1000.5"), (local("2026-10-31 23:45"), "499.5")]
    return AccountInputs(
        enterprise=enterprise(DYEING),
        activity=(
            month_activity("dye-el1", "energy_import", electricity),
            month_activity("dye-gas1", "gas_volume", [(at, "1000")]),
            month_activity("dye-dsl1", "diesel_mass", [(at, "2")]),
            month_activity("dye-stm1", "steam_mass", [(at, "10")]),
        ),
        economics=(economic_row("2026-10-01", "100", "400"),),
    )


def parts_inputs(economics: tuple[EconomicRow, ...] = ()) -> AccountInputs:
    noon = local("2026-10-02 12:00")
    activity: tuple[MonthActivity, ...] = (
        month_activity("prt-el1", "energy_import", [(local("2026-10-02 10:00"), "2000")]),
        month_activity("prt-el1", "energy_export", [(noon, "100")]),
        month_activity("prt-pv1", "energy_generated", [(noon, "500")]),
    )
    return AccountInputs(enterprise(PARTS), activity, economics=economics)


def cement_inputs() -> AccountInputs:
    at = local("2026-10-03 00:00")
    stack = [(at, "12.345678"), (local("2026-10-03 00:15"), "1.000001")]
    return AccountInputs(
        enterprise=enterprise(CEMENT),
        activity=(
            month_activity("cem-el1", "energy_import", [(at, "10000")]),
            month_activity("cem-dsl1", "diesel_mass", [(at, "1")]),
            month_activity("cem-cems1", "co2_mass", stack),
        ),
        economics=(economic_row("2026-10-01", None, "50"),),
    )


def account(inputs: AccountInputs) -> Account:
    return compute_account(inputs, OCT, LIBRARY, as_of=NOW, status="provisional")


def _line(account, meter: str, quantity: str | None = None):  # type: ignore[no-untyped-def]
    return next(
        line
        for line in account.lines
        if line.meter_id == meter and (quantity is None or line.quantity == quantity)
    )


def test_dyeing_works_electricity_gas_diesel_steam() -> None:
    a = account(dyeing_inputs())
    el, gas = _line(a, "dye-el1"), _line(a, "dye-gas1")
    dsl, stm = _line(a, "dye-dsl1"), _line(a, "dye-stm1")
    assert el.activity == Decimal("1500")
    # 1500 kWh x 0.4974 / 1000 = 0.7461 t
    assert el.tco2 == Decimal("0.7461") and el.scope == 2
    assert [f.ref for f in el.factors] == ["grid.zhejiang.2023@1"]
    # 1000 Nm3 / 10^4 x 389.31 x 15.3 / 1000 x 0.99 x 44/12: 389.31 x 15.3 = 5956.443,
    # x 0.99 = 5896.87857, x 44 / 12 = 21621.88809, / 1000 = 21.62188809 t per 10^4 Nm3;
    # x 0.1 = 2.162188809 t
    assert gas.tco2 == Decimal("2.162188809") and gas.scope == 1
    # 2 t x 42.652 x 20.2 / 1000 x 0.98 x 44/12: 42.652 x 20.2 = 861.5704, x 0.98 = 844.338992,
    # x 44 = 37150.915648, / 12 = 3095.9096373..., / 1000 x 2 = 6.19181927466... (12 decimals)
    assert dsl.tco2 == Decimal("6.191819274667")
    # 10 t x (2777.1 - 83.74) / 1000 GJ/t = 26.9336 GJ, x 0.11 = 2.962696 t
    assert stm.tco2 == Decimal("2.962696") and stm.scope == 2
    t = a.totals
    # scope 1 = 2.162188809 + 6.191819274666... = 8.354008083666...
    assert t.scope1 == Decimal("8.354008083667") == t.combustion
    # scope 2 = 0.7461 + 2.962696 = 3.708796
    assert t.scope2 == Decimal("3.708796")
    assert t.purchased_electricity == Decimal("0.7461")
    assert t.purchased_heat == Decimal("2.962696")
    # total 12.062804083666... (rounded once from the exact sum)
    assert t.total == Decimal("12.062804083667")
    # tce 当量值: 1500 x 0.0001229 = 0.18435, 1000 x 0.0012143 = 1.2143, 2 x 1.4571 = 2.9142,
    # 10 x 0.1286 = 1.286: 5.59885; 等价值: 1500 x 0.0003031 = 0.45465 instead of 0.18435: 5.86915
    assert t.tce_equivalent == Decimal("5.59885")
    assert t.tce_equal == Decimal("5.86915")
    # intensities: 12.062804083666... / 100 and / 400 万元
    assert a.intensity.per_value_added == Decimal("0.120628040837")
    assert a.intensity.per_revenue == Decimal("0.030157010209")
    assert a.economics.value_added.basis == "reported"
    # coverage: 5 buckets x 900 s covered of 4 meters x 31 days = 4,500,000 / 10,713,600,000 ms
    assert a.quality.meters == 4
    assert a.quality.coverage == Decimal("0.000420026882")
    assert a.quality.period_ms == 31 * 86_400_000
    assert set(a.quality.offline_meters) == {"dye-el1", "dye-gas1", "dye-dsl1", "dye-stm1"} - {
        "dye-el1"
    }
    assert a.cross_check is None
    assert "grid.zhejiang.2023@1" in a.factor_ids and "fuel.diesel.general@1" in a.factor_ids


def test_parts_maker_with_export_and_own_pv() -> None:
    a = account(parts_inputs((economic_row("2026-10-01", "10", None),)))
    export = _line(a, "prt-el1", "energy_export")
    assert export.role == "exported" and export.activity == Decimal("100")
    # exported: -100 kWh x 0.4974 / 1000 = -0.04974 t
    assert export.tco2 == Decimal("-0.04974")
    # purchased 2000 x 0.4974 / 1000 = 0.9948; net scope 2 = 0.9948 - 0.04974 = 0.94506
    assert a.totals.purchased_electricity == Decimal("0.9948")
    assert a.totals.exported_electricity == Decimal("0.04974")
    assert a.totals.total == a.totals.scope2 == Decimal("0.94506")
    # own PV 500 kWh recorded as avoided: 500 x 0.4974 / 1000 = 0.2487 t, not in the total
    pv = _line(a, "prt-pv1")
    assert pv.tco2 is None and pv.scope is None and pv.tco2_avoided == Decimal("0.2487")
    assert a.totals.own_generation_avoided == Decimal("0.2487")
    # tce: (2000 - 100) x 0.0001229 = 0.23351; PV is not purchased energy
    assert a.totals.tce_equivalent == Decimal("0.23351")
    # 0.94506 / 10 万元
    assert a.intensity.per_value_added == Decimal("0.094506")
    assert a.intensity.per_revenue is None


def test_cement_plant_with_cems_cross_check() -> None:
    a = account(cement_inputs())
    # 10000 kWh x 0.4974 / 1000 = 4.974; diesel 1 t = 3.0959096373333... t
    assert a.totals.scope2 == Decimal("4.974")
    assert a.totals.scope1 == Decimal("3.095909637333")
    assert a.totals.total == Decimal("8.069909637333")
    # CEMS: 12.345678 + 1.000001 = 13.345679 t, beside the calculated figure, never in it
    stack = _line(a, "cem-cems1")
    assert stack.quantity == "co2_mass" and stack.tco2 is None
    assert stack.tco2_measured == Decimal("13.345679")
    assert a.totals.measured == Decimal("13.345679")
    assert a.cross_check is not None
    assert a.cross_check.measured_tco2 == Decimal("13.345679")
    assert a.cross_check.calculated_scope1_tco2 == Decimal("3.095909637333")
    assert a.cross_check.difference_tco2 == Decimal("10.249769362667")
    # no value added: revenue basis only, 8.0699096373333... / 50
    assert a.intensity.per_value_added is None
    assert a.intensity.per_revenue == Decimal("0.161398192747")


def test_activity_by_carrier_sums_the_meters() -> None:
    a = account(parts_inputs())
    rows = {(c.carrier, c.role): (c.activity, c.tco2, c.tce_equivalent) for c in a.by_carrier}
    assert rows == {
        ("electricity", "purchased"): (Decimal(2000), Decimal("0.9948"), Decimal("0.2458")),
        ("electricity", "exported"): (Decimal(100), Decimal("-0.04974"), Decimal("-0.01229")),
        ("pv", "own_generation"): (Decimal(500), None, None),
    }
