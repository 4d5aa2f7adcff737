"""An account from imported registry, readings and economic data alone (issue 6, done when)."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from analytics import Aggregator, Partition
from carbonledger.config import AggregateSettings
from launcher.cli import main

DYEING = "91331102MA2CX001XC"  # valid GB 32100 codes (the registry import checks them)
PARTS = "91331181MA2CX0028R"

REGISTRY = f"""
[[enterprise]]
code = "{DYEING}"
name = "丽水示例印染有限公司"
industry_code = "1713"
district = "莲都区"
size_class = "medium"

[[enterprise]]
code = "{PARTS}"
name = "龙泉示例汽车部件有限公司"
industry_code = "3670"
district = "龙泉市"
size_class = "small"

[[gateway]]
id = "gw-e1"
enterprise = "{DYEING}"

[[gateway]]
id = "gw-e2"
enterprise = "{PARTS}"

[[meter]]
id = "e1-el1"
enterprise = "{DYEING}"
gateway = "gw-e1"
carrier = "electricity"
quantity = "energy_import"
multiplier = 200
register_max = 1000000
role = "purchased"
source = "10 kV 进线"

[[meter]]
id = "e1-gas1"
enterprise = "{DYEING}"
gateway = "gw-e1"
carrier = "natural_gas"
quantity = "gas_volume"
role = "combustion"
source = "1号燃气定型机"

[[meter]]
id = "e2-el1"
enterprise = "{PARTS}"
gateway = "gw-e2"
carrier = "electricity"
quantity = "energy_import"
"""
READINGS = """meter_id,quantity,time,value,quality
e1-el1,energy_import,2026-10-01T00:00:00+08:00,1000.00,good
e1-el1,energy_import,2026-10-01T00:15:00+08:00,1000.50,good
e1-el1,energy_import,2026-10-01T00:30:00+08:00,1001.00,good
e1-el1,energy_import,2026-10-01T00:45:00+08:00,1001.50,good
e1-gas1,gas_volume,2026-10-01T00:00:00+08:00,5000.0,good
e1-gas1,gas_volume,2026-10-01T00:15:00+08:00,5100.0,good
e2-el1,energy_import,2026-10-15T08:00:00+08:00,10.00,good
e2-el1,energy_import,2026-10-15T08:15:00+08:00,12.00,good
"""
ECONOMICS = f"""enterprise_code,period,value_added,revenue,output_quantity,output_unit
{DYEING},2026-10,50,200,1.5,万米
{PARTS},2026-10,,20,,
"""


@pytest.fixture
def imported(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DATABASE_URL", db_url)
    for name, text in (("registry.toml", REGISTRY), ("economics.csv", ECONOMICS),
                       ("readings.csv", READINGS)):  # fmt: skip
        (tmp_path / name).write_text(text, encoding="utf-8")
    assert main(["registry", "import", str(tmp_path / "registry.toml")]) == 0
    assert main(["economics", "import", str(tmp_path / "economics.csv")]) == 0
    assert main(["readings", "import", str(tmp_path / "readings.csv")]) == 0
    aggregator = Aggregator(db_url, AggregateSettings(), Partition())
    with psycopg.connect(db_url) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        while (result := aggregator.cycle(conn)).changes or result.more:
            pass
    return db_url


def test_an_account_from_imports_alone(imported: str, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["accounts", "close", "--month", "2026-10"]) == 0
    capsys.readouterr()
    assert main(["accounts", "show", DYEING, "--period", "2026-10", "--json"]) == 0
    a = json.loads(capsys.readouterr().out)
    lines = {line["meter_id"]: line for line in a["lines"]}
    # register 1000.00 -> 1001.50 x multiplier 200 = 300 kWh; x 0.4974 / 1000 = 0.14922 t
    assert lines["e1-el1"]["activity"] == "300" and lines["e1-el1"]["tco2"] == "0.14922"
    assert lines["e1-el1"]["source"] == "10 kV 进线"
    # gas 5000 -> 5100 = 100 Nm3 x 21.62188809 / 10^4 = 0.2162188809 t
    assert lines["e1-gas1"]["tco2"] == "0.2162188809"
    assert lines["e1-gas1"]["source"] == "1号燃气定型机"
    # total 0.14922 + 0.2162188809 = 0.3654388809; L = / 50 万元 = 0.007308777618
    assert a["totals"]["total"] == "0.3654388809"
    assert a["status"] == "closed" and a["economics"]["value_added"]["basis"] == "reported"
    assert a["intensity"]["per_value_added"] == "0.007308777618"
    # per output: 0.3654388809 / 1.5 万米 = 0.243625920600
    assert a["intensity"]["per_output"] == "0.2436259206"
    # 3 buckets of 15 min covered by the electricity meter and 1 by gas, of 2 meters x 31 days:
    # 3,600,000 / 5,356,800,000 ms = 0.00067204301075...
    assert a["quality"]["coverage"] == "0.000672043011"
    huzhou = next(g for g in a["grades"] if g["model"] == "huzhou")
    # alone in 1713: industry L = its own L, K = 1 -> grade 3; L <= 0.6 -> 低碳
    assert (huzhou["grade"], huzhou["level"], huzhou["k_value"]) == (3, "低碳", "1")
    assert main(["accounts", "show", PARTS, "--period", "2026-10", "--json"]) == 0
    b = json.loads(capsys.readouterr().out)
    # 10.00 -> 12.00 = 2 kWh x 0.4974 / 1000 = 0.0009948 t, revenue basis only: / 20 万元
    assert b["totals"]["total"] == "0.0009948"
    assert b["intensity"]["per_revenue"] == "0.00004974"
    grade = next(g for g in b["grades"] if g["model"] == "huzhou")
    assert grade["basis"] == "revenue" and grade["level"] is None


def test_explain_starts_from_the_register_readings(
    imported: str, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["accounts", "explain", DYEING, "--period", "2026-10", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    el = next(r for r in d["readings"] if r["meter_id"] == "e1-el1")
    # 1000.00 at 00:00 to 1001.50 at 00:45: delta 1.5 x multiplier 200 = 300 kWh, as booked
    assert (el["first_value"], el["last_value"]) == (1000.0, 1001.5)
    assert (el["register_delta"], el["multiplier"], el["delta_activity"]) == ("1.5", "200", "300")
    assert el["booked_activity"] == "300" and el["events"] == {}
    assert main(["accounts", "explain", DYEING, "--period", "2026-10"]) == 0
    text = capsys.readouterr().out
    assert "1,000.00 @ 10-01 00:00" in text and "1,001.50 @ 10-01 00:45" in text
