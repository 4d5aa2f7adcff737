"""The read path against PostgreSQL: the rollups of the reference accounts read back as the
plain inputs test_reference_accounts.py builds by hand, and give the same accounts."""

from __future__ import annotations

import ast
from pathlib import Path

import psycopg
import pytest

import accounts.ledger
from accounts.ledger import Period, get_account
from accounts.ledger._read import read_inputs
from accounts.ledger._store import refresh_live
from carbonledger.errors import UnknownEnterpriseError
from tests.accounts.ledger.helpers import CEMENT, DYEING, PARTS, economics, local, rollup
from tests.accounts.ledger.test_reference_accounts import (
    NOW,
    OCT,
    account,
    cement_inputs,
    dyeing_inputs,
    parts_inputs,
)


def _write_reference_rollups(conn: psycopg.Connection) -> None:
    rollup(conn, "dye-el1", "energy_import", local("2026-10-01 00:00"), "1000.5")
    rollup(conn, "dye-el1", "energy_import", local("2026-10-31 23:45"), "499.5")
    rollup(conn, "dye-gas1", "gas_volume", local("2026-10-10 08:00"), "1000")
    rollup(conn, "dye-dsl1", "diesel_mass", local("2026-10-10 08:00"), "2")
    rollup(conn, "dye-stm1", "steam_mass", local("2026-10-10 08:00"), "10")
    rollup(conn, "dye-el1", "energy_import", local("2026-09-30 23:45"), "777")
    rollup(conn, "dye-el1", "energy_import", local("2026-11-01 00:00"), "888")
    economics(conn, DYEING, "2026-10-01", "100", "400")
    rollup(conn, "prt-el1", "energy_import", local("2026-10-02 10:00"), "2000")
    rollup(conn, "prt-el1", "energy_export", local("2026-10-02 12:00"), "100")
    rollup(conn, "prt-pv1", "energy_generated", local("2026-10-02 12:00"), "500")
    rollup(conn, "cem-el1", "energy_import", local("2026-10-03 00:00"), "10000")
    rollup(conn, "cem-dsl1", "diesel_mass", local("2026-10-03 00:00"), "1")
    rollup(conn, "cem-cems1", "co2_mass", local("2026-10-03 00:00"), "12.345678")
    rollup(conn, "cem-cems1", "co2_mass", local("2026-10-03 00:15"), "1.000001")
    economics(conn, CEMENT, "2026-10-01", None, "50")


def test_one_bulk_read_gives_the_hand_built_inputs(conn: psycopg.Connection) -> None:
    _write_reference_rollups(conn)
    inputs = read_inputs(conn, [DYEING, PARTS, CEMENT], [OCT], NOW)
    for code, expected in (
        (DYEING, dyeing_inputs()),
        (PARTS, parts_inputs()),
        (CEMENT, cement_inputs()),
    ):
        got = inputs.of(code, OCT)
        assert got.enterprise == expected.enterprise
        assert sorted(got.activity, key=repr) == sorted(expected.activity, key=repr)
        assert got.economics == expected.economics
        assert (got.measured_ncv, got.green_power, dict(got.quality_events)) == ((), (), {})


def test_the_read_path_gives_the_same_accounts(conn: psycopg.Connection) -> None:
    _write_reference_rollups(conn)
    for code, inputs in ((DYEING, dyeing_inputs()), (CEMENT, cement_inputs())):
        read = get_account(conn, code, OCT, now=NOW).model_dump(exclude={"grades"})
        assert read == account(inputs).model_dump(exclude={"grades"})


def test_an_unknown_enterprise_is_refused(conn: psycopg.Connection) -> None:
    with pytest.raises(UnknownEnterpriseError):
        get_account(conn, "91330000MA00000000", OCT, now=NOW)


def test_a_refresh_of_no_enterprise_reads_nothing_and_writes_nothing(
    conn: psycopg.Connection,
) -> None:
    result = refresh_live(conn, codes=[], now=NOW)
    assert (result.enterprises, result.accounts, result.grades) == (0, 0, 0)


def _ledger_imports(module: str) -> set[str]:
    """The top-level packages ``module`` imports, following accounts.ledger's own modules."""
    folder = Path(accounts.ledger.__file__).parent
    seen: set[str] = set()
    found: set[str] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        tree = ast.parse((folder / f"{name}.py").read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            for imported in names:
                if imported.startswith("accounts.ledger."):
                    todo.append(imported.removeprefix("accounts.ledger."))
                found.add(imported.split(".")[0])
    return found


def test_the_compute_imports_no_database_driver() -> None:
    assert "psycopg" in _ledger_imports("_read")  # the check sees an import where there is one
    assert "psycopg" not in _ledger_imports("_compute")


def test_a_past_month_not_closed_yet_is_provisional_and_the_month_to_date_live(
    conn: psycopg.Connection,
) -> None:
    _write_reference_rollups(conn)
    october = get_account(conn, DYEING, OCT, now=NOW)
    assert (october.status, october.period.live) == ("provisional", False)
    mtd = get_account(conn, DYEING, Period.mtd(NOW), now=NOW)
    assert (mtd.status, mtd.period.live) == ("live", True)
