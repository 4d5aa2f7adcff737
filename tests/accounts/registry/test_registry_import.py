"""``registry import``: every bad record named by line and field, one transaction, idempotent."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from accounts.registry import import_registry
from carbonledger.errors import InvalidImportError
from launcher.cli import main

EXAMPLES = Path(__file__).resolve().parents[3] / "docs" / "examples"
A = "91331102MA2CX001XC"  # the example file's dyeing works
B = "91331181MA2CX0028R"  # the example file's auto-parts maker

_ENTERPRISE = """
[[enterprise]]
code = "{code}"
name = "测试企业"
industry_code = "3011"
district = "莲都区"
"""


def snapshot(url: str) -> dict[str, list[tuple[object, ...]]]:
    with psycopg.connect(url) as conn:
        return {
            table: conn.execute(
                sql.SQL("SELECT * FROM {} ORDER BY 1").format(sql.Identifier(table))
            ).fetchall()
            for table in ("enterprises", "sites", "gateways", "meters")
        }


def problems(url: str, path: Path) -> list[str]:
    with psycopg.connect(url) as conn, pytest.raises(InvalidImportError) as raised:
        import_registry(conn, path)
    return [p.removeprefix(f"{path}:") for p in raised.value.problems]


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        # 91331102MA2CX001X + check character C (GB 32100 mod 31); D is one off
        ("91331102MA2CX001XD", "wrong check character: expected C got D"),
        ("91331102MA2CX001X", "has 17 characters, a code has 18"),
        ("91331102MA2CI001XC", "character 'I' at position 13 is not in the GB 32100 alphabet"),
        ("91331102ma2cx001xc", "character 'm' at position 9 is not in the GB 32100 alphabet"),
        ("91A30000727215176J", "positions 3-8 are the administrative division code"),
        ("91331102MA2CX001X\u00a0", "character '\\xa0' at position 18 is not in the GB 32100"),
        ("\u00a091331102MA2CX001XC", "has 19 characters, a code has 18"),
    ],
)
def test_an_invalid_credit_code_is_rejected_with_the_reason(
    db_url: str, tmp_path: Path, code: str, reason: str
) -> None:
    path = tmp_path / "r.toml"
    path.write_text(_ENTERPRISE.format(code=code), encoding="utf-8")
    [problem] = problems(db_url, path)
    assert problem.startswith(f"3: [[enterprise]] {code}: code: credit code {code!r}")
    assert reason in problem
    assert snapshot(db_url)["enterprises"] == []


def test_spaces_around_a_credit_code_are_dropped(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "r.toml"
    path.write_text(_ENTERPRISE.format(code=f" {A}\\t"), encoding="utf-8")
    with psycopg.connect(db_url) as conn:
        import_registry(conn, path)
    assert [row[0] for row in snapshot(db_url)["enterprises"]] == [A]


def test_the_example_file_imports_and_a_second_import_changes_nothing(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        first = import_registry(conn, EXAMPLES / "registry.toml")
        before = snapshot(db_url)
        second = import_registry(conn, EXAMPLES / "registry.toml")
    assert [first.count(k, "added") for k in ("enterprise", "site", "gateway", "meter")] == [
        3, 1, 3, 8,
    ]  # fmt: skip
    assert {c.action for c in second.changes} == {"unchanged"}
    assert len(second.changes) == 15
    assert snapshot(db_url) == before
    meters = {m[0]: m for m in before["meters"]}
    with psycopg.connect(db_url) as conn:
        el1 = conn.execute(
            "SELECT unit, multiplier, register_max, role, source, site_id FROM meters"
            " WHERE id = 'm-cx001-el1'"
        ).fetchone()
        size = conn.execute("SELECT size_class FROM enterprises WHERE code = %s", (
            "91331123MA2CX0036L",)).fetchone()  # fmt: skip
    assert el1 == ("kWh", 200, 1000000, "purchased", "10 kV 进线", "cx001-main")
    assert size == ("large",)  # written 大型 in the file
    assert len(meters) == 8


def test_one_bad_record_changes_nothing_and_every_problem_is_named(
    db_url: str, tmp_path: Path
) -> None:
    with psycopg.connect(db_url) as conn:
        import_registry(conn, EXAMPLES / "registry.toml")
    before = snapshot(db_url)
    path = tmp_path / "update.toml"
    path.write_text(
        f"""[[enterprise]]
code = "{A}"
name = "丽水示例印染股份有限公司"
industry_code = "1713"
district = "莲都区"

[[gateway]]
id = "gw-cx002"
enterprise = "{A}"

[[meter]]
id = "m-new-gas"
enterprise = "{A}"
gateway = "gw-cx002"
carrier = "natural_gas"
quantity = "energy_import"
multiplier = 0

[[meter]]
id = "m-new-el"
enterprise = "{A}"
gateway = "gw-cx001"
site = "no-such-site"
carrier = "electricity"
quantity = "energy_import"
unit = "MWh"

[[meter]]
id = "m-cx001-el1"
enterprise = "{A}"
gateway = "gw-cx001"
carrier = "electricty"
quantity = "energy_import"
""",
        encoding="utf-8",
    )
    assert problems(db_url, path) == [
        f"9: [[gateway]] gw-cx002: enterprise: gateway gw-cx002 is registered to enterprise {B};"
        " a gateway cannot move to another enterprise (register a new gateway id instead)",
        "17: [[meter]] m-new-gas: multiplier: Input should be greater than 0",
        "23: [[meter]] m-new-el: site: no site 'no-such-site' in this file or the registry",
        "26: [[meter]] m-new-el: unit: energy_import is reported in kWh, not 'MWh'",
        "32: [[meter]] m-cx001-el1: carrier: 'electricty' is not one of 'electricity',"
        " 'natural_gas', 'steam', 'heat', 'diesel', 'pv' or 'flue_gas'",
    ]
    assert snapshot(db_url) == before  # the valid name change was not applied either


def test_changed_attributes_update_and_say_what_changed(db_url: str, tmp_path: Path) -> None:
    with psycopg.connect(db_url) as conn:
        import_registry(conn, EXAMPLES / "registry.toml")
        conn.execute(
            "INSERT INTO readings (time, meter_id, quantity, value, quality) VALUES"
            " ('2026-10-01T00:00+08', 'm-cx002-el1', 'energy_import', 1, 'good'),"
            " ('2026-10-03T23:59+08', 'm-cx002-el1', 'energy_import', 2, 'good')"
        )
        conn.commit()
    path = tmp_path / "change.toml"
    path.write_text(
        f"""[[enterprise]]
code = "{B}"
name = "龙泉示例汽车部件股份有限公司"
industry_code = "3670"
district = "龙泉市"
size_class = "中型"

[[meter]]
id = "m-cx002-el1"
enterprise = "{B}"
gateway = "gw-cx002"
carrier = "electricity"
quantity = "energy_import"
multiplier = 80
""",
        encoding="utf-8",
    )
    with psycopg.connect(db_url) as conn:
        report = import_registry(conn, path)
        again = import_registry(conn, path)
    assert [str(c) for c in report.changes] == [
        f"updated enterprise {B}: name 龙泉示例汽车部件有限公司 -> 龙泉示例汽车部件股份有限公司;"
        " size_class small -> medium",
        # register_max, role... are not in the file: they keep their stored values
        "updated meter m-cx002-el1: multiplier 60 -> 80 (rollups computed before used the old"
        f" value: run carbonledger aggregate recompute --enterprise {B} --from 2026-10-01"
        " --to 2026-10-03)",
    ]
    assert report.summary() == (
        f"{path}: imported 1 enterprise (0 added, 1 updated, 0 unchanged),"
        " 1 meter (0 added, 1 updated, 0 unchanged)"
    )
    assert {c.action for c in again.changes} == {"unchanged"}
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT multiplier, register_max FROM meters WHERE id = 'm-cx002-el1'"
        ).fetchone()
    assert row == (80, 1000000)


def test_a_dry_run_reports_and_changes_nothing(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        report = import_registry(conn, EXAMPLES / "registry.toml", dry_run=True)
    assert report.count("meter", "added") == 8
    assert report.summary().startswith(f"{EXAMPLES / 'registry.toml'}: would import 3 enterprises")
    assert snapshot(db_url)["enterprises"] == []


def test_file_level_faults_name_the_line(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text('[[enterprise]]\ncode = "x\n', encoding="utf-8")
    assert problems(db_url, path) == ["2: Illegal character '\\n' (column 10)"]  # tomllib's words
    path.write_text(_ENTERPRISE.format(code=A) + "\n[[meters]]\nid = 'x'\n", encoding="utf-8")
    assert problems(db_url, path) == [
        "8: meters: unknown table; a registry file has [[enterprise]], [[site]], [[gateway]]"
        " and [[meter]] tables"
    ]


def test_cli_import_prints_every_problem_and_exits_1(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    path = tmp_path / "r.toml"
    path.write_text(
        _ENTERPRISE.format(code="91331102MA2CX001XD").replace("莲都区", "丽水市"), encoding="utf-8"
    )
    assert main(["registry", "import", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.splitlines() == [
        f"{path}: 2 problems; nothing was imported:",
        f"  {path}:3: [[enterprise]] 91331102MA2CX001XD: code: credit code '91331102MA2CX001XD'"
        " has a wrong check character: expected C got D",
        f"  {path}:6: [[enterprise]] 91331102MA2CX001XD: district: '丽水市' is a"
        " prefecture-level city of 浙江省, not a county-level division: write one of its 9"
        " divisions: 莲都区, 青田县, 缙云县, 遂昌县, 松阳县, 云和县, 庆元县,"
        " 景宁畲族自治县, 龙泉市",
    ]
    assert main(["registry", "import", str(EXAMPLES / "registry.toml")]) == 0
    assert main(["registry", "show", "91331181MA2CX00302"]) == 1  # valid, but not registered
    assert main(["registry", "show", A]) == 0
    shown = capsys.readouterr().out
    assert "m-cx001-el1" in shown and "丽水示例印染有限公司" in shown
    assert main(["registry", "list", "--district", "龙泉市"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed[-1] == "1 enterprise"
    assert B in listed[1]
