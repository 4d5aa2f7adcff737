"""``economics import``: exact 万元 decimals, every bad field named, one transaction, idempotent."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from accounts.registry import import_economics, import_registry, parse_period
from carbonledger.errors import InvalidImportError
from launcher.cli import main

EXAMPLES = Path(__file__).resolve().parents[3] / "docs" / "examples"
A = "91331102MA2CX001XC"
C = "91331123MA2CX0036L"
TODAY = date(2026, 12, 1)
HEADER = "enterprise_code,period,value_added,revenue,output_quantity,output_unit\n"


@pytest.fixture
def registry_url(db_url: str) -> str:
    with psycopg.connect(db_url) as conn:
        import_registry(conn, EXAMPLES / "registry.toml")
    return db_url


def stored(url: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT enterprise_code, period_kind, period_start, value_added, revenue,"
            " output_quantity, output_unit, source FROM economic_data ORDER BY 1, 2, 3"
        ).fetchall()


def refused(url: str, path: Path) -> list[str]:
    with psycopg.connect(url) as conn, pytest.raises(InvalidImportError) as raised:
        import_economics(conn, path, today=TODAY)
    return [p.removeprefix(f"{path}:") for p in raised.value.problems]


def test_periods() -> None:
    assert parse_period("2026-10") == ("month", date(2026, 10, 1))
    assert parse_period("2026") == ("year", date(2026, 1, 1))
    for bad in ("2026-1", "26-10", "2026/10", "2026-10-01", ""):
        with pytest.raises(ValueError, match="write a month as 2026-10 or a year as 2026"):
            parse_period(bad)
    with pytest.raises(ValueError, match="month 13 is not 01-12"):
        parse_period("2026-13")


def test_the_example_imports_exactly_and_again_changes_nothing(registry_url: str) -> None:
    with psycopg.connect(registry_url) as conn:
        first = import_economics(conn, EXAMPLES / "economics.csv", today=TODAY)
        second = import_economics(conn, EXAMPLES / "economics.csv", today=TODAY)
    assert first.count("economic record", "added") == 6
    assert {c.action for c in second.changes} == {"unchanged"}
    rows = stored(registry_url)
    assert rows[0] == (
        A, "month", date(2026, 9, 1), Decimal("812.5"), Decimal("3250"), Decimal("1.2"), "万米",
        "import",
    )  # fmt: skip
    # the auto-parts maker gave revenue only: value added stays NULL (the revenue fallback)
    assert ("91331181MA2CX0028R", "month", date(2026, 10, 1), None, Decimal("420.8"), None,
            None, "import") in rows  # fmt: skip
    assert (C, "year", date(2025, 1, 1), Decimal("17250.5"), Decimal("69300"), Decimal("98"),
            "万t", "import") in rows  # fmt: skip


def test_a_bad_line_changes_nothing_and_every_field_is_named(
    registry_url: str, tmp_path: Path
) -> None:
    with psycopg.connect(registry_url) as conn:
        import_economics(conn, EXAMPLES / "economics.csv", today=TODAY)
    before = stored(registry_url)
    path = tmp_path / "e.csv"
    path.write_text(
        HEADER
        + f"{A},2026-09,900,3600,1.3,万米\n"  # a valid update: must not be applied either
        + f"{A},2026-13,1,2,,\n"
        + f'{C},2026-10,"1,610",-5,8.9,\n'
        + "91331102MA2CX001XD,2026-10,1,2,,\n"
        + f"{C},2027-01,1,2,,\n"
        + f"{C},2026-11,,,,\n"
        + f"{A},2026-09,900,3600,1.3,万米\n"
        + f"{C},2026-08,1,2\n",
        encoding="utf-8",
    )
    assert refused(registry_url, path) == [
        "3: period: '2026-13': month 13 is not 01-12",
        "4: value_added: '1,610' is not a number (万元, write e.g. 1234.5, no separators)",
        "4: revenue: -5 is negative",
        "4: output_unit: output_quantity and output_unit go together: give both",
        "5: enterprise_code: credit code '91331102MA2CX001XD' has a wrong check character:"
        " expected C got D",
        "6: period: 2027-01 has not begun yet",
        "7: value_added: give value_added or revenue (or both), or a balance sheet, in 万元",
        f"8: period: {A} 2026-09 is also given at line 2",
        "9: (row): 4 cells, but the header has 6: enterprise_code,period,value_added,revenue,"
        "output_quantity,output_unit",
    ]
    assert stored(registry_url) == before


def test_a_no_break_space_after_a_code_is_named_as_written(
    registry_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "e.csv"
    path.write_text(
        HEADER + f"{A[:-1]}\u00a0,2026-10,1,2,,\n {A} ,2026-11,1,2,,\n", encoding="utf-8"
    )
    assert refused(registry_url, path) == [
        f"2: enterprise_code: credit code '{A[:-1]}\\xa0': character '\\xa0' at position 18 is not"
        " in the GB 32100 alphabet 0123456789ABCDEFGHJKLMNPQRTUWXY",
    ]


def test_header_faults_are_named(registry_url: str, tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_text("# revised figures\nenterprise_code,period,revenue,output_quantity,va\n")
    assert refused(registry_url, path) == [
        "2: va: unknown column; the columns are enterprise_code, period, value_added, revenue,"
        " output_quantity, output_unit, total_assets, total_equity, total_debt, evic",
        "2: output_unit: column missing: output_quantity and output_unit go together",
    ]


def test_an_unknown_enterprise_is_an_error_naming_the_line(
    registry_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "e.csv"
    # 91331181MA2CX0030 + check character 2: valid, but not registered
    path.write_text(HEADER + f"{A},2026-10,1,2,,\n91331181MA2CX00302,2026-10,1,2,,\n")
    assert refused(registry_url, path) == [
        "3: enterprise_code: no enterprise 91331181MA2CX00302 in the registry (import it first"
        " with carbonledger registry import)"
    ]
    assert stored(registry_url) == []


def test_an_update_says_what_changed_and_absent_columns_keep_their_values(
    registry_url: str, tmp_path: Path
) -> None:
    with psycopg.connect(registry_url) as conn:
        import_economics(conn, EXAMPLES / "economics.csv", today=TODAY)
        path = tmp_path / "revised.csv"
        path.write_text("\ufeffEnterprise_Code, Period ,value_added\n" + f"{A},2026-09,830.75\n")
        report = import_economics(conn, path, source="statistics", today=TODAY)
    assert [str(c) for c in report.changes] == [
        f"updated economic record {A} 2026-09: value_added 812.5 -> 830.75"
    ]
    assert stored(registry_url)[0] == (
        A, "month", date(2026, 9, 1), Decimal("830.75"), Decimal("3250"), Decimal("1.2"), "万米",
        "statistics",
    )  # fmt: skip


def test_cli_prints_the_changes_and_notes_a_swap(
    registry_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", registry_url)
    path = tmp_path / "e.csv"
    path.write_text(HEADER + f"{A},2026-09,3250,812.5,,\n", encoding="utf-8")
    assert main(["economics", "import", str(path), "--dry-run"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"  (dry run) added economic record {A} 2026-09 (value added exceeds revenue: are the"
        " two columns swapped?)",
        f"{path}: would import 1 economic record (1 added, 0 updated, 0 unchanged)",
    ]
    assert stored(registry_url) == []
    path.write_text(HEADER + f"{A},2026,1,2,,\n91331181MA2CX00302,2026,1,2,,\n")
    assert main(["economics", "import", str(path)]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"{path}: 1 problem on 1 line; nothing was imported:",
        f"  {path}:3: enterprise_code: no enterprise 91331181MA2CX00302 in the registry (import"
        " it first with carbonledger registry import)",
    ]
