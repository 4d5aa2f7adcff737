"""The factor library: every domain.md value, exact derived factors, errors naming file:line:key,
idempotent loading, and a loaded factor that never changes in place."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import psycopg
import pytest

from accounts.ledger import load_factors, read_library
from accounts.ledger._policy import guideline_for, select
from carbonledger.errors import AccountsError, ConfigError
from launcher.cli import main
from tests.accounts.ledger.helpers import library

DOMAIN = {  # domain.md sections 3 and 4, as published
    "grid.national.2021": "0.5568", "grid.zhejiang.2021": "0.5422",
    "grid.east_china.2021": "0.5992",
    "grid.national.2022": "0.5366", "grid.zhejiang.2022": "0.5153",
    "grid.east_china.2022": "0.5617",
    "grid.national.2023": "0.5306", "grid.zhejiang.2023": "0.4974",
    "grid.east_china.2023": "0.5500",
    "grid.national.excluding-market-non-fossil.2022": "0.5856",
    "grid.national.excluding-market-non-fossil.2023": "0.6096",
    "grid.national.fossil-only.2022": "0.8325", "grid.national.fossil-only.2023": "0.8273",
    "grid.carbon-market.2019": "0.6101", "grid.carbon-market.2021": "0.5810",
    "grid.carbon-market.2022": "0.5703",
    "fuel.natural-gas.general": "21.62", "fuel.diesel.general": "3.096",
    "fuel.gasoline.general": "2.925", "fuel.lpg.general": "3.101", "fuel.fuel-oil.general": "3.171",
    "fuel.bituminous-coal.general": "1.742", "fuel.anthracite.general": "2.522",
    "fuel.coke.general": "2.860",
    "tce.electricity.equivalent": "0.1229", "tce.natural-gas": "1.2143",
    "tce.natural-gas.oil-field": "1.3300", "tce.raw-coal": "0.7143", "tce.coke": "0.9714",
    "tce.crude-oil": "1.4286", "tce.fuel-oil": "1.4286", "tce.gasoline": "1.4714",
    "tce.kerosene": "1.4714", "tce.diesel": "1.4571", "tce.lpg": "1.7143", "tce.heat": "0.03412",
    "tce.steam": "0.1286", "heat.purchased": "0.11", "steam.reference-enthalpy": "83.74",
}  # fmt: skip


def test_every_domain_value_is_in_the_library_with_its_source() -> None:
    entries = {e.entry.id: e.entry for e in read_library()}
    for factor_id, value in DOMAIN.items():
        assert entries[factor_id].value == Decimal(value), factor_id
        assert entries[factor_id].source and entries[factor_id].document
    assert entries["grid.zhejiang.2023"].document == "生态环境部 国家统计局 公告2025年第47号"
    assert entries["grid.zhejiang.2021"].published.isoformat() == "2024-04-12"
    assert entries["grid.carbon-market.2022"].series == "carbon_market"
    assert {entries[f"fuel.{f}.chemical"].ncv for f in ("gasoline", "diesel")} == {
        Decimal("44.80"),
        Decimal("43.33"),
    }
    assert entries["fuel.bituminous-coal.general"].verify  # domain.md marks it (verify)


def test_derived_fuel_factors_are_exact_products() -> None:
    entries = {e.entry.id: e.entry for e in read_library()}
    # 389.31 x 15.3 x 0.99 x 44/12 / 1000 = 21.62188809 exactly
    assert entries["fuel.natural-gas.general"].derived == Fraction("21.62188809")
    # fuel oil: 41.816 x 21.1 x 0.98 x 44/12 / 1000 = 3.17046124266..., table 3.171 (two-step
    # rounding): within one unit of the last place, accepted; the account uses the product
    assert abs(entries["fuel.fuel-oil.general"].derived - Fraction("3.171")) < Fraction("0.001")


FUEL = """[[factor]]
id = "fuel.diesel.test"
version = 1
kind = "fuel"
subject = "diesel"
series = "default"
value = {value}
unit = "tCO2/t"
ncv = 42.652
ncv_unit = "GJ/t"
carbon_content = 20.2
oxidation = 0.98
guideline = "test"
region = "national"
scope = "scope1"
document = "test"
source = "test"
published = 2015-11-19
valid_from = 2016-06-01
"""


def test_a_bad_file_names_file_line_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(FUEL.format(value="3.096").replace('scope = "scope1"', 'scope = "scope9"'))
    with pytest.raises(ConfigError) as info:
        read_library([bad])
    assert f"{bad}:15: factor.0.scope: Input should be 'scope1', 'scope2' or 'energy'" in str(
        info.value
    )


def test_a_derived_value_that_disagrees_is_refused_at_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "typo.toml"
    bad.write_text(FUEL.format(value="3.196"))  # the product is 3.0959...
    with pytest.raises(ConfigError, match=rf"{bad}:7: factor.0.value: 3.196 tCO2/t disagrees"):
        read_library([bad])


def test_a_duplicate_id_and_version_is_refused(tmp_path: Path) -> None:
    twice = tmp_path / "twice.toml"
    twice.write_text(FUEL.format(value="3.096") + "\n" + FUEL.format(value="3.096"))
    with pytest.raises(ConfigError, match=r"twice.toml:22: factor fuel.diesel.test version 1 is"
                       r" already defined at .*twice.toml:2"):  # fmt: skip
        read_library([twice])


def test_loading_is_idempotent_and_a_loaded_factor_never_changes(
    db_url: str, tmp_path: Path
) -> None:
    extra = tmp_path / "extra.toml"
    extra.write_text(FUEL.format(value="3.096"))
    with psycopg.connect(db_url, autocommit=True) as conn:
        first = load_factors(conn, [extra])  # the template already holds the packaged ones
        assert (first.added, first.unchanged) == (1, 56)
        assert load_factors(conn, [extra]).added == 0
        extra.write_text(FUEL.format(value="3.096").replace("ncv = 42.652", "ncv = 42.653"))
        with pytest.raises(ConfigError, match="differs from the one already loaded"):
            load_factors(conn, [extra])
        extra.write_text(FUEL.format(value="3.096").replace("version = 1", "version = 2"))
        assert load_factors(conn, [extra]).added == 1  # a correction is a new version
        count = conn.execute("SELECT count(*) FROM factors WHERE id = 'fuel.diesel.test'")
        assert count.fetchone() == (2,)


def test_db_migrate_loads_the_library(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("DELETE FROM factors")
    monkeypatch.setenv("DATABASE_URL", db_url)
    assert main(["db", "migrate"]) == 0
    assert "factor library: 56 added, 0 unchanged" in capsys.readouterr().out
    assert main(["accounts", "factors", "load"]) == 0
    assert "factor library: 0 added, 56 unchanged" in capsys.readouterr().out


@pytest.mark.parametrize("industry", ["2511", "2614"])
def test_petrochemical_and_chemical_divisions_take_their_guideline_ncvs(industry: str) -> None:
    lib = library()
    guideline = guideline_for(industry, lib.settings)
    day = date(2026, 10, 1)
    ncv = {fuel: lib.fuel(fuel, guideline, day, day).ncv for fuel in _GUIDELINE_NCV}
    assert ncv == _GUIDELINE_NCV
    assert lib.fuel("fuel_oil", guideline, day, day).guideline == guideline


def test_other_divisions_keep_the_general_ncvs_and_have_no_crude_oil() -> None:
    lib = library()
    guideline = guideline_for("3011", lib.settings)
    day = date(2026, 10, 1)
    assert lib.fuel("fuel_oil", guideline, day, day).ncv == Decimal("41.816")
    assert lib.fuel("anthracite", guideline, day, day).ncv == Decimal("26.7")
    with pytest.raises(AccountsError, match="crude_oil"):
        lib.fuel("crude_oil", guideline, day, day)


def test_the_natural_gas_tce_coefficient_names_the_2008_edition() -> None:
    day = date(2026, 10, 1)
    gas = select(library(), carrier="natural_gas", month=day, as_of=day, industry_code="1713")
    assert gas.tce_equivalent == Fraction("1.2143") / 1000
    [coefficient] = gas.tce_factors
    assert coefficient.ref == "tce.natural-gas@2"
    assert coefficient.document == "GB/T 2589-2008 综合能耗计算通则"


_GUIDELINE_NCV = {
    "fuel_oil": Decimal("40.19"),
    "anthracite": Decimal("24.515"),
    "bituminous_coal": Decimal("23.204"),
    "crude_oil": Decimal("41.816"),
}
