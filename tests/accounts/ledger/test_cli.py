"""The accounts commands end to end through ``launcher.cli.main``."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import psycopg
import pytest

from launcher.cli import main
from tests.accounts.ledger.helpers import DYEING, PARTS, economics, local, register, rollup


@pytest.fixture
def city(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DATABASE_URL", db_url)
    with psycopg.connect(db_url, autocommit=True) as conn:
        register(conn)
        rollup(conn, "dye-el1", "energy_import", local("2025-03-01 00:00"), "1500")
        rollup(conn, "dye-gas1", "gas_volume", local("2025-03-10 08:00"), "1000")
        rollup(conn, "dye-el1", "energy_import", local("2025-04-01 00:00"), "500")
        economics(conn, DYEING, "2025-01-01", "1200", "4800", kind="year")
        rollup(conn, "prt-el1", "energy_import", local("2025-03-02 10:00"), "2000")
    return db_url


def test_show_prints_an_aligned_account(city: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["accounts", "show", DYEING, "--period", "2025-03"]) == 0
    out = capsys.readouterr().out
    assert "丽水瓯江印染有限公司" in out and "period 2025-03" in out
    # 1500 kWh x 0.4974 / 1000 = 0.746 (3 decimals); gas 2.162188809 -> 2.162; total 2.908
    assert "0.746" in out and "2.162" in out and "2.908" in out
    assert "grid.zhejiang.2023@1 0.4974 tCO2/MWh" in out
    # value added: 1200 / 12 = 100.00 万元 (annual / 12, estimated)
    assert "100.00" in out and "2025 annual / 12" in out


def test_show_json_is_the_account(city: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["accounts", "show", DYEING, "--period", "2025-03", "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["totals"]["total"] == "2.908288809"  # 0.7461 + 2.162188809
    assert body["status"] == "provisional" and body["period"]["kind"] == "month"


def test_explain_walks_from_meters_to_grade(city: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["accounts", "explain", DYEING, "--period", "2025-03"]) == 0
    out = capsys.readouterr().out
    for heading in ("1. meters", "2. factors", "3. emissions", "4. totals", "6. L, industry L"):
        assert heading in out
    assert "MEE/NBS 2023年电力二氧化碳排放因子: 浙江省电力平均二氧化碳排放因子" in out
    assert "公告2025年第47号" in out
    assert "kWh x 0.4974 tCO2/MWh / 1000 = 0.746" in out
    # L = 2.908288809 / 100 = 0.0291; alone in 1713: K = 1, grade 3, 低碳
    assert "0.0291" in out and "低碳3级" in out


def test_close_recompute_and_report(
    city: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["accounts", "close", "--month", "2025-03"]) == 0
    assert "3 account(s) closed for 2025-03" in capsys.readouterr().out
    assert main(["accounts", "close", "--month", "2099-01"]) == 1  # not over yet
    assert main(["accounts", "recompute", "--month", "2025-03", "--reason", "check"]) == 0
    assert "version 1 unchanged" in capsys.readouterr().out
    out = tmp_path / "report.json"
    assert main(["accounts", "report", DYEING, "--year", "2025", "--out", str(out)]) == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    e = report["emissions"]
    # 2025: electricity 1500 + 500 = 2000 kWh x 0.4974 / 1000 = 0.9948; gas 2.162188809
    assert e["purchased_electricity"]["tco2"] == "0.9948"
    assert e["fuel_combustion"]["tco2"] == "2.162188809"
    assert e["total"] == "3.156988809"
    assert report["memo"]["monthly_tco2"] == {"2025-03": "2.908288809", "2025-04": "0.2487"}
    assert "grid.zhejiang.2023@1" in report["emission_factors"]
    assert report["status"] == "provisional"  # the year is over but not closed: on demand
    assert main(["accounts", "close", "--year", "2025", "--enterprise", DYEING]) == 0
    assert "1 account(s) closed for 2025" in capsys.readouterr().out
    assert main(["accounts", "report", DYEING, "--year", "2025", "--out", str(out)]) == 0
    closed = json.loads(out.read_text(encoding="utf-8"))
    assert (closed["status"], closed["emissions"]["total"]) == ("closed", "3.156988809")
    # value added: the 2025 annual figure as reported; 3.156988809 / 1200 万元
    assert closed["economics"]["value_added"] == {"value": "1200", "basis": "reported (annual)"}
    assert closed["intensity"]["per_value_added"] == "0.002630824008"
    assert main(["accounts", "report", PARTS, "--year", "2025", "--format", "csv"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0] == [
        "section",
        "item",
        "source",
        "carrier",
        "activity",
        "unit",
        "tco2",
        "factors",
    ]
    assert ["emissions", "total", "", "", "", "", "0.9948", ""] in rows


def test_an_unknown_enterprise_and_a_bad_period_are_reported(
    city: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["accounts", "show", "91330000MA00000000", "--period", "2025"]) == 1
    assert main(["accounts", "show", DYEING, "--period", "2025-13"]) == 1
    err = capsys.readouterr().err
    assert "unknown enterprise '91330000MA00000000'" in err
    assert "month must be 01..12" in err
