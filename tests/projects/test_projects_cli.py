"""The projects commands end to end through ``launcher.cli.main``: a boiler retrofit declared
from a file, its drivers imported, screened on its baseline, admitted, shown and explained."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from launcher.cli import main
from tests.accounts.ledger.helpers import local
from tests.projects.helpers import OWNER, register_owner, rollup
from tests.projects.test_projects_methods import BASE_MONTHS, Y_BAD, Y_GOOD, X

RETROFIT = f"""
id = "boiler-01"
owner_code = "{OWNER}"
title = "锅炉节能改造"
purpose = "mitigation"
area = "energy_saving"
subcategory = "industrial_efficiency"
location = "莲都区"
total_investment_yuan = 1500000
start_of_operation = 2026-01-01
expected_annual_tco2 = 15
method = "ipmvp_c"

[params]
baseline_from = 2025-01-01
baseline_to = 2025-12-01
driver = "production"

[meters]
"gas-1" = "measured"
"""


@pytest.fixture
def city(db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("DATABASE_URL", db_url)
    with psycopg.connect(db_url, autocommit=True) as conn:
        register_owner(conn)
    (tmp_path / "boiler.toml").write_text(RETROFIT, encoding="utf-8")
    rows = [f"{m:%Y-%m},{x},production report" for m, x in zip(BASE_MONTHS, X, strict=True)]
    rows.append("2026-03,20,production report")
    (tmp_path / "drivers.csv").write_text("month,value,source\n" + "\n".join(rows) + "\n")
    return tmp_path


def _baseline(url: str, energy: list[int]) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for month, value in zip(BASE_MONTHS, energy, strict=True):
            rollup(conn, "gas-1", "gas_volume", local(f"{month} 08:00"), str(value))
        rollup(conn, "gas-1", "gas_volume", local("2026-03-05 08:00"), "1500")


def test_a_retrofit_from_declaration_to_explained_reductions(
    city: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _baseline(db_url, Y_GOOD)
    assert main(["projects", "declare", str(city / "boiler.toml"), "--by", "张经理"]) == 0
    assert main(["projects", "drivers", "boiler-01", str(city / "drivers.csv"), "--by", "张"]) == 0
    assert main(["projects", "screen", "boiler-01", "--by", "李科长"]) == 0
    out = capsys.readouterr().out
    assert "R² 0.9979, CV(RMSE) 0.0084, NMBE 0.0000" in out and "screened" in out
    assert main(["projects", "admit", "boiler-01", "--by", "李科长"]) == 0
    capsys.readouterr()
    assert main(["projects", "show", "boiler-01", "--period", "2026-03", "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    month = body["reductions"]["months"][0]
    assert month["reduction_tco2"] == "1.081775"  # test_projects_methods: 500.3147 Nm3 saved
    assert body["reductions"]["baseline"]["slope"] == "49.685315"
    assert [t["action"] for t in body["history"]] == ["declare", "screen", "admit"]
    assert main(["projects", "explain", "boiler-01", "--period", "2026-03"]) == 0
    text = capsys.readouterr().out
    assert "energy = 1006.608392 + 49.685315 x production" in text
    assert "2025-03: 1710.000000 Nm3, production 14.000000" in text
    assert "fuel.natural-gas.general@1" in text and "saving: 500.3147 Nm3" in text


def test_a_baseline_that_fails_the_thresholds_is_refused_at_screening(
    city: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _baseline(db_url, Y_BAD)
    assert main(["projects", "declare", str(city / "boiler.toml"), "--by", "张经理"]) == 0
    assert main(["projects", "drivers", "boiler-01", str(city / "drivers.csv"), "--by", "张"]) == 0
    assert main(["projects", "screen", "boiler-01", "--by", "李科长"]) == 1
    out = capsys.readouterr().out
    assert "NO  baseline" in out and "CV(RMSE) 0.1870 > 0.15" in out and "stays declared" in out


def test_bad_files_are_reported_with_their_line(
    city: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = RETROFIT.replace("total_investment_yuan = 1500000", "total_investment_yuan = -5")
    (city / "bad.toml").write_text(bad, encoding="utf-8")
    assert main(["projects", "declare", str(city / "bad.toml"), "--by", "x"]) == 1
    err = capsys.readouterr().err
    assert "bad.toml:9: total_investment_yuan" in err
    (city / "bad.csv").write_text("month,value,source\n2025-13,1,x\n2025-01,abc,x\n")
    assert main(["projects", "declare", str(city / "boiler.toml"), "--by", "x"]) == 0
    assert main(["projects", "drivers", "boiler-01", str(city / "bad.csv"), "--by", "x"]) == 1
    err = capsys.readouterr().err
    assert "bad.csv:2:" in err and "bad.csv:3:" in err
