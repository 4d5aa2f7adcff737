"""The library's life cycle on a real database: who may do what, in which stage, logged, and
nothing half-written when a declaration is wrong."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import psycopg
import pytest

from carbonledger.tz import SHANGHAI
from projects import DeclarationError, RoleError, Stage, TransitionError, refresh
from projects._read import read_project, read_transitions
from projects.library import Actor, admit, declare, retire, screen
from tests.accounts.ledger.helpers import local
from tests.projects.helpers import OTHER, OWNER, declaration, register_owner, rollup

NOW = datetime(2026, 12, 4, 10, 0, tzinfo=SHANGHAI)
OWNER_ACTOR = Actor("enterprise", "张经理", OWNER)
BUREAU = Actor("bureau", "李科长")


@pytest.fixture
def conn(db_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(db_url, autocommit=True) as c:
        register_owner(c)
        yield c


def _count(conn: psycopg.Connection, table: str) -> int:
    row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    assert row is not None
    return int(row[0])


def test_declared_screened_admitted_retired_each_by_its_role(conn: psycopg.Connection) -> None:
    declare(conn, declaration(), OWNER_ACTOR, NOW)
    result = screen(conn, "lishui-pv-01", BUREAU, NOW)
    assert result.passed and result.project.stage is Stage.SCREENED
    assert {c.rule for c in result.criteria} == {
        "taxonomy", "meters", "expected_reduction", "cost_effectiveness", "baseline"
    }  # fmt: skip
    assert admit(conn, "lishui-pv-01", BUREAU, NOW).stage is Stage.ADMITTED
    assert retire(conn, "lishui-pv-01", BUREAU, NOW, note="ended").stage is Stage.RETIRED
    log = read_transitions(conn, "lishui-pv-01")
    assert [(t.action, t.by_role, t.to_stage) for t in log] == [
        ("declare", "enterprise", Stage.DECLARED),
        ("screen", "bureau", Stage.SCREENED),
        ("admit", "bureau", Stage.ADMITTED),
        ("retire", "bureau", Stage.RETIRED),
    ]
    assert log[1].criteria is not None and all(c["passed"] for c in log[1].criteria)


def test_roles_are_enforced(conn: psycopg.Connection) -> None:
    with pytest.raises(RoleError):
        declare(conn, declaration(), Actor("bureau", "x"), NOW)
    with pytest.raises(RoleError):  # another enterprise cannot declare the owner's project
        declare(conn, declaration(), Actor("enterprise", "x", OTHER), NOW)
    declare(conn, declaration(), OWNER_ACTOR, NOW)
    with pytest.raises(RoleError):
        screen(conn, "lishui-pv-01", OWNER_ACTOR, NOW)
    with pytest.raises(TransitionError):  # not screened yet
        admit(conn, "lishui-pv-01", BUREAU, NOW)


def test_a_failed_screening_is_logged_and_leaves_the_project_declared(
    conn: psycopg.Connection,
) -> None:
    # 8,000,000 yuan for 10 t/a = 800,000 yuan per t/a > the rule's 100,000
    declare(conn, declaration(expected_annual_tco2="10"), OWNER_ACTOR, NOW)
    result = screen(conn, "lishui-pv-01", BUREAU, NOW)
    assert not result.passed
    failed = [c for c in result.criteria if not c.passed]
    assert [c.rule for c in failed] == ["cost_effectiveness"]
    assert "800000.00 yuan per tCO2/a" in failed[0].detail
    assert read_project(conn, "lishui-pv-01").stage is Stage.DECLARED
    log = read_transitions(conn, "lishui-pv-01")
    assert log[-1].action == "screen" and not log[-1].passed


def test_a_wrong_declaration_names_every_problem_and_writes_nothing(
    conn: psycopg.Connection,
) -> None:
    bad = declaration(
        subcategory="wind", method="generation",
        meters={"pv-1": "generation", "dye-1": "own_use", "nope": "own_use"},
    )  # fmt: skip
    with pytest.raises(DeclarationError) as caught:
        declare(conn, bad, OWNER_ACTOR, NOW)
    text = str(caught.value)
    assert "meter nope is not registered" in text
    assert f"meter dye-1 belongs to {OTHER}" in text
    taxonomy = declaration(area="energy_saving", subcategory="solar")
    with pytest.raises(DeclarationError, match="not in the taxonomy"):
        declare(conn, taxonomy, OWNER_ACTOR, NOW)
    assert _count(conn, "projects") == _count(conn, "project_meters") == 0
    assert _count(conn, "project_transitions") == 0


def test_a_project_is_declared_once(conn: psycopg.Connection) -> None:
    declare(conn, declaration(), OWNER_ACTOR, NOW)
    with pytest.raises(DeclarationError, match="already declared"):
        declare(conn, declaration(), OWNER_ACTOR, NOW)
    assert _count(conn, "project_transitions") == 1


def test_refresh_stores_this_years_months_of_the_library(conn: psycopg.Connection) -> None:
    """March: 12,000 kWh generated - 500 own use = 11.5 MWh x 0.4974 = 5.7201 tCO2; every month
    from January to the live December stored, December flagged live."""
    declare(conn, declaration(), OWNER_ACTOR, NOW)
    screen(conn, "lishui-pv-01", BUREAU, NOW)
    admit(conn, "lishui-pv-01", BUREAU, NOW)
    rollup(conn, "pv-1", "energy_generated", local("2026-03-05 12:00"), "12000")
    rollup(conn, "aux-1", "energy_import", local("2026-03-05 12:00"), "500")
    refresh(conn, NOW)
    refresh(conn, NOW)  # again: the same rows, not twice
    rows = conn.execute(
        "SELECT month, reduction_tco2, live FROM project_reductions ORDER BY month"
    ).fetchall()
    assert len(rows) == 12 and [r[2] for r in rows] == [False] * 11 + [True]
    assert str(rows[2][1]) == "5.720100" and rows[2][0].month == 3
