"""The balance sheet attribution needs goes through the registry's one validation."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from accounts.registry import ECONOMIC_COLUMNS, Problems, validate_economics
from carbonledger import uscc

CODE = uscc.make_code("91331102MA2A0BA00")


def check(**values: str) -> tuple[list[str], int]:
    problems = Problems(Path("e.csv"))
    row = {c: "" for c in ECONOMIC_COLUMNS} | {"enterprise_code": CODE, "period": "2025"} | values
    records = validate_economics([(2, row)], problems, date(2026, 2, 1))
    return problems.kept, len(records)


def test_a_balance_sheet_alone_is_a_record_and_equity_may_be_negative() -> None:
    assert check(total_equity="-120.5", total_debt="800") == ([], 1)
    assert check(total_assets="900") == ([], 1)


def test_bad_balance_sheet_figures_are_named() -> None:
    kept, count = check(total_debt="-1", evic="0", total_assets="lots")
    assert count == 0
    assert kept == [
        "e.csv:2: total_assets: 'lots' is not a number (万元, write e.g. 1234.5, no separators)",
        "e.csv:2: total_debt: -1 is negative",
        "e.csv:2: evic: 0: EVIC of a listed company is positive",
    ]
