"""Factor selection by the policy, and closed months that only an explicit recompute changes."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from accounts.ledger import Period, close, get_account, grade_history, load_factors, recompute
from carbonledger.config import AccountsSettings
from carbonledger.errors import AccountsError
from tests.accounts.ledger.helpers import CEMENT, DYEING, PARTS, economics, local, rollup

NOW = local("2026-11-05 10:00")


def _total(conn: psycopg.Connection, code: str, period: str, **kwargs: object) -> Decimal:
    return get_account(conn, code, Period.parse(period, NOW), now=NOW, **kwargs).totals.total


@pytest.mark.parametrize(
    ("month", "factor", "value"),
    [("2024-05", "grid.zhejiang.2023@1", "0.4974"), ("2023-05", "grid.zhejiang.2023@1", "0.4974"),
     ("2022-06", "grid.zhejiang.2022@1", "0.5153"), ("2021-06", "grid.zhejiang.2021@1", "0.5422")],
)  # fmt: skip
def test_a_period_uses_the_latest_factor_for_its_year_or_earlier(
    conn: psycopg.Connection, month: str, factor: str, value: str
) -> None:
    rollup(conn, "prt-el1", "energy_import", local(f"{month}-10 10:00"), "1000")
    account = get_account(conn, PARTS, Period.parse(month, NOW), now=NOW)
    assert account.lines[0].factors[0].ref == factor
    assert account.totals.total == Decimal(value)  # 1000 kWh = 1 MWh x factor


def test_only_factors_published_by_the_computation_day_count(conn: psycopg.Connection) -> None:
    rollup(conn, "prt-el1", "energy_import", local("2024-05-10 10:00"), "1000")
    # on 2025-06-01 the 2023 factor (published 2025-12-31) was not out: the 2022 one applies
    before = get_account(conn, PARTS, Period.parse("2024-05", NOW), now=local("2025-06-01 00:00"))
    assert before.lines[0].factors[0].ref == "grid.zhejiang.2022@1"
    with pytest.raises(AccountsError, match="no average grid factor for zhejiang"):
        rollup(conn, "prt-el1", "energy_import", local("2020-05-10 10:00"), "1000")
        get_account(conn, PARTS, Period.parse("2020-05", NOW), now=NOW)


def test_region_and_series_are_configuration(conn: psycopg.Connection) -> None:
    rollup(conn, "prt-el1", "energy_import", local("2026-10-10 10:00"), "1000")
    east = AccountsSettings(region="east_china")
    fossil = AccountsSettings(grid_series="fossil_only")
    assert _total(conn, PARTS, "2026-10", settings=east) == Decimal("0.55")
    assert _total(conn, PARTS, "2026-10", settings=fossil) == Decimal("0.8273")
    assert _total(conn, PARTS, "2026-10", settings=AccountsSettings(region="national")) == Decimal(
        "0.5306"
    )


def test_chemical_guideline_and_measured_ncv(conn: psycopg.Connection) -> None:
    conn.execute("UPDATE enterprises SET industry_code = '2614' WHERE code = %s", (DYEING,))
    rollup(conn, "dye-dsl1", "diesel_mass", local("2026-10-10 10:00"), "1")
    rollup(conn, "dye-gas1", "gas_volume", local("2026-10-10 10:00"), "1000")
    a = get_account(conn, DYEING, Period.parse("2026-10", NOW), now=NOW)
    diesel = next(line for line in a.lines if line.carrier == "diesel")
    # chemical guideline NCV 43.33 GJ/t: 43.33 x 20.2 = 875.266, x 0.98 = 857.76068,
    # x 44 / 12 = 3145.12249333..., / 1000 = 3.145122493333 t
    assert diesel.factors[0].ref == "fuel.diesel.chemical@1"
    assert diesel.tco2 == Decimal("3.145122493333")
    conn.execute(
        "INSERT INTO measured_ncv (enterprise_code, fuel, valid_from, ncv, ncv_unit, source)"
        " VALUES (%s, 'natural_gas', '2026-01-01', 380, 'GJ/10^4Nm3', '2026 lab report 17')",
        (DYEING,),
    )
    a = get_account(conn, DYEING, Period.parse("2026-10", NOW), now=NOW)
    gas = next(line for line in a.lines if line.carrier == "natural_gas")
    # 1000 Nm3 / 10^4 x 380 x 15.3 / 1000 x 0.99 x 44/12: 380 x 15.3 = 5814, x 0.99 = 5755.86,
    # x 44 / 12 = 21104.82, / 1000 = 21.10482 per 10^4 Nm3; x 0.1 = 2.110482 t
    assert gas.tco2 == Decimal("2.110482")
    assert "measured: 2026 lab report 17" in gas.formula
    # tce from the measured NCV: 1000 x 380 / 10^4 GJ / 29.307 GJ/tce = 38 / 29.307 = 1.29661...
    assert gas.tce_equivalent == Decimal("1.296618555294")


def test_steam_enthalpy_per_meter_and_green_power_residual(conn: psycopg.Connection) -> None:
    rollup(conn, "dye-stm1", "steam_mass", local("2026-10-10 10:00"), "10")
    rollup(conn, "dye-el1", "energy_import", local("2026-10-10 10:00"), "2000")
    conn.execute(
        "INSERT INTO green_power_purchases (enterprise_code, month, kwh, certificate)"
        " VALUES (%s, '2026-10-01', 500, 'GEC-2026-0042')",
        (DYEING,),
    )
    settings = AccountsSettings(
        steam_enthalpy={"dye-stm1": Decimal("2900")}, green_power="residual"
    )
    a = get_account(conn, DYEING, Period.parse("2026-10", NOW), now=NOW, settings=settings)
    steam = next(line for line in a.lines if line.carrier == "steam")
    # 10 t x (2900 - 83.74) / 1000 = 28.1626 GJ x 0.11 = 3.097886 t
    assert steam.tco2 == Decimal("3.097886")
    # residual: 2000 kWh at the factor excluding market-traded non-fossil power (2023: 0.6096)
    # = 1.2192 t, less the 500 green kWh at that factor: 0.3048 -> 0.9144 t
    assert a.totals.purchased_electricity == Decimal("1.2192")
    assert a.totals.green_power == Decimal("-0.3048")
    assert a.totals.scope2 == Decimal("0.9144") + Decimal("3.097886")
    default = get_account(conn, DYEING, Period.parse("2026-10", NOW), now=NOW)
    assert default.totals.purchased_electricity == Decimal("0.9948")  # 2000 x 0.4974 / 1000


def test_two_high_flag_on_annual_energy(conn: psycopg.Connection) -> None:
    rollup(conn, "cem-dsl1", "diesel_mass", local("2025-06-10 10:00"), "4")
    settings = AccountsSettings(two_high_tce=Decimal("5.8"))
    a = get_account(conn, CEMENT, Period.parse("2025", NOW), now=NOW, settings=settings)
    assert a.totals.tce_equivalent == Decimal("5.8284")  # 4 t x 1.4571
    assert a.two_high is True  # division 30, 5.8284 > 5.8 tce
    assert get_account(conn, CEMENT, Period.parse("2025-06", NOW), now=NOW).two_high is None


NEW_FACTOR = """[[factor]]
id = "grid.zhejiang.2024"
version = 1
kind = "grid"
subject = "electricity"
series = "average"
value = 0.4800
unit = "tCO2/MWh"
region = "zhejiang"
scope = "scope2"
data_year = 2024
document = "test announcement"
source = "test"
published = 2026-11-10
valid_from = 2024-01-01
"""


def test_a_new_factor_changes_a_closed_month_only_through_recompute(
    conn: psycopg.Connection, tmp_path: Path
) -> None:
    rollup(conn, "prt-el1", "energy_import", local("2026-10-10 10:00"), "1000")
    rollup(conn, "prt-el1", "energy_import", local("2026-11-10 10:00"), "1000")
    economics(conn, PARTS, "2026-10-01", "10", None)
    october = Period.parse("2026-10", NOW)
    with pytest.raises(AccountsError, match="not over yet"):
        close(conn, Period.parse("2026-11", NOW), now=NOW)
    closed = close(conn, october, now=NOW)
    assert {a.enterprise.code for a in closed} == {DYEING, PARTS, CEMENT}
    assert close(conn, october, now=NOW) == []  # already closed: nothing changes
    extra = tmp_path / "new.toml"
    extra.write_text(NEW_FACTOR)
    load_factors(conn, [extra])
    later = local("2026-11-20 10:00")
    frozen = get_account(conn, PARTS, october, now=later)
    assert frozen.status == "closed" and frozen.totals.total == Decimal("0.4974")
    # the live month uses the 2024 factor from its publication on: 1 MWh x 0.48
    mtd = get_account(conn, PARTS, Period.mtd(later), now=later)
    assert mtd.totals.total == Decimal("0.48")
    with pytest.raises(AccountsError, match="needs a reason"):
        recompute(conn, october, " ", now=later)
    results = {r.code: r for r in recompute(conn, october, "2024 factor published", now=later)}
    assert (results[PARTS].old_version, results[PARTS].new_version) == (1, 2)
    assert results[CEMENT].new_version is None  # no electricity: unchanged, stays version 1
    current = get_account(conn, PARTS, october, now=later)
    assert (current.version, current.status, current.totals.total) == (2, "closed", Decimal("0.48"))
    assert current.reason == "2024 factor published"
    rows = conn.execute(
        "SELECT version, status, superseded_at IS NOT NULL, reason, tco2_total FROM account_periods"
        " WHERE enterprise_code = %s AND period_kind = 'month' ORDER BY version",
        (PARTS,),
    ).fetchall()
    assert rows == [
        (1, "superseded", True, "closed", Decimal("0.4974")),
        (2, "closed", False, "2024 factor published", Decimal("0.48")),
    ]
    history = [g for g in grade_history(conn, PARTS) if g.period_kind == "month"]
    assert {g.account_version for g in history} == {2}
