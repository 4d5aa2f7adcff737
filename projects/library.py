"""The project library's writes: declare, screen, admit, retire, and the baseline drivers.

Each action checks the actor's role (the enterprise declares its own projects and reports its
drivers; the bureau screens, admits and retires; an admin may do all), the project's stage,
and writes the change and its log entry (``project_transitions``) in one transaction: nothing
is half-written. This module is the only writer of the projects' tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any, Literal

import psycopg
from psycopg.types.json import Jsonb

from projects._errors import (
    DeclarationError,
    MethodError,
    ProjectError,
    RoleError,
    TransitionError,
)
from projects._methods import baseline_of, months_between
from projects._model import Declaration, Method, Project, Stage
from projects._read import read_inputs, read_meters, read_project
from projects._rules import rules, taxonomy

ActorRole = Literal["enterprise", "bureau", "admin"]
_ELECTRIC = ("pv", "electricity")
_SUPPORTED = ("electricity", "pv", "natural_gas", "diesel", "heat")


@dataclass(frozen=True)
class Actor:
    """Who takes an action, in which role (an enterprise acts for its own code only)."""

    role: ActorRole
    name: str
    enterprise_code: str | None = None


@dataclass(frozen=True)
class Criterion:
    """One screening rule and its result on a project."""

    rule: str
    passed: bool
    detail: str

    def as_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "passed": self.passed, "detail": self.detail}


@dataclass(frozen=True)
class Screening:
    project: Project
    passed: bool
    criteria: tuple[Criterion, ...]


def _require(actor: Actor, action: str, *roles: ActorRole, owner: str | None = None) -> None:
    if actor.role not in roles:
        raise RoleError(f"a {actor.role} may not {action} a project ({', '.join(roles)} may)")
    if actor.role == "enterprise" and actor.enterprise_code != owner:
        raise RoleError(f"enterprise {actor.enterprise_code} may not {action} {owner}'s project")


def _log(  # noqa: PLR0917 - the columns of one log row
    conn: psycopg.Connection[Any],
    project_id: str,
    action: str,
    before: Stage | None,
    after: Stage,
    actor: Actor,
    now: datetime,
    *,
    passed: bool = True,
    criteria: Sequence[Criterion] | None = None,
    note: str | None = None,
) -> None:
    conn.execute(
        "INSERT INTO project_transitions (project_id, action, from_stage, to_stage, passed,"
        " criteria, by_role, by_name, at, note) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            project_id, action, None if before is None else before.value, after.value, passed,
            None if criteria is None else Jsonb([c.as_json() for c in criteria]),
            actor.role, actor.name, now, note,
        ),
    )  # fmt: skip


def _taxonomy_problem(d: Declaration) -> str | None:
    sub = taxonomy().find(d.purpose, d.area, d.subcategory)
    if sub is None:
        return f"{d.purpose}/{d.area}/{d.subcategory} is not in the taxonomy"
    if d.method.value not in sub.methods:
        return f"{d.area}/{d.subcategory} is measured by {', '.join(sub.methods)}, not {d.method}"
    return None


def _meter_problems(conn: psycopg.Connection[Any], d: Declaration) -> list[str]:
    found = read_meters(conn, list(d.meters))
    problems = [f"meter {m} is not registered" for m in d.meters if m not in found]
    for meter_id, row in found.items():
        if row["enterprise_code"] != d.owner_code:
            problems.append(f"meter {meter_id} belongs to {row['enterprise_code']}")
        elif row["carrier"] not in _SUPPORTED:
            problems.append(f"meter {meter_id}: carrier {row['carrier']} is not supported")
        elif d.method is Method.GENERATION and row["carrier"] not in _ELECTRIC:
            problems.append(f"meter {meter_id}: a generation project meters electricity")
    if d.method in (Method.IPMVP_B, Method.IPMVP_C):
        carriers = {row["carrier"] for row in found.values()}
        if len(carriers) > 1:
            problems.append(f"IPMVP meters must measure one carrier, not {sorted(carriers)}")
    return problems


def declare(
    conn: psycopg.Connection[Any], declaration: Declaration, actor: Actor, now: datetime
) -> Project:
    """Record a declared project (DeclarationError naming every problem, nothing written)."""
    d = declaration
    _require(actor, "declare", "enterprise", "admin", owner=d.owner_code)
    problems = [p for p in [_taxonomy_problem(d)] if p] + _meter_problems(conn, d)
    if problems:
        raise DeclarationError(f"project {d.id}: " + "; ".join(problems))
    try:
        with conn.transaction():
            conn.execute(
                "INSERT INTO projects (id, owner_code, title, purpose, area, subcategory,"
                " location, total_investment_yuan, start_of_operation, expected_annual_tco2,"
                " method, method_params, stage, declared_at, updated_at)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'declared', %s, %s)",
                (
                    d.id, d.owner_code, d.title, d.purpose, d.area, d.subcategory, d.location,
                    d.total_investment_yuan, d.start_of_operation, d.expected_annual_tco2,
                    d.method.value, Jsonb(d.params.model_dump(mode="json")), now, now,
                ),
            )  # fmt: skip
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO project_meters (project_id, meter_id, role) VALUES (%s, %s, %s)",
                    [(d.id, m, role.value) for m, role in sorted(d.meters.items())],
                )
            _log(conn, d.id, "declare", None, Stage.DECLARED, actor, now)
    except psycopg.errors.UniqueViolation as exc:
        raise DeclarationError(f"project {d.id} is already declared") from exc
    except psycopg.errors.ForeignKeyViolation as exc:
        raise DeclarationError(f"project {d.id}: unknown owner {d.owner_code}") from exc
    return read_project(conn, d.id)


def _criteria(conn: psycopg.Connection[Any], project: Project, now: datetime) -> list[Criterion]:
    screening = rules().screening
    out = []
    problem = _taxonomy_problem(project)
    out.append(
        Criterion("taxonomy", problem is None, problem or f"{project.area}/{project.subcategory}")
    )
    meters = _meter_problems(conn, project)
    out.append(
        Criterion("meters", not meters, "; ".join(meters) or f"{len(project.meters)} meters")
    )
    expected = project.expected_annual_tco2
    floor = screening.min_expected_annual_tco2
    out.append(Criterion("expected_reduction", expected > floor, f"{expected} tCO2/a > {floor}"))
    if expected > 0:
        cost = project.total_investment_yuan / expected
        limit = screening.max_yuan_per_annual_tco2
        out.append(
            Criterion("cost_effectiveness", cost <= limit, f"{cost:.2f} yuan per tCO2/a <= {limit}")
        )
    out.append(_baseline_criterion(conn, project, now))
    return out


def _baseline_criterion(
    conn: psycopg.Connection[Any], project: Project, now: datetime
) -> Criterion:
    if project.method is Method.GENERATION:
        return Criterion("baseline", True, "generation: no baseline (grid factor)")
    assert project.params.baseline_from and project.params.baseline_to  # noqa: S101
    months = months_between(project.params.baseline_from, project.params.baseline_to)
    try:
        inputs = read_inputs(conn, project, [], now)
        if project.method is Method.FUEL_SWITCH:
            total = sum((inputs.total(m) for m in months), Fraction(0))
            return Criterion(
                "baseline", total > 0, f"{len(months)} baseline months, activity {total > 0}"
            )
        base = baseline_of(inputs, rules())
    except MethodError as exc:
        return Criterion("baseline", False, str(exc))
    r2 = "n/a" if base.r2 is None else f"{float(base.r2):.4f}"
    detail = f"R² {r2}, CV(RMSE) {base.cv_rmse:.4f}, NMBE {float(base.nmbe):.4f}"
    if base.failures:
        detail += ": " + "; ".join(base.failures)
    return Criterion("baseline", base.accepted, detail)


def screen(
    conn: psycopg.Connection[Any], project_id: str, actor: Actor, now: datetime
) -> Screening:
    """Check the published criteria; all passed: the project is screened. Logged either way."""
    _require(actor, "screen", "bureau", "admin")
    project = read_project(conn, project_id)
    if project.stage is not Stage.DECLARED:
        raise TransitionError(f"project {project_id} is {project.stage}, not declared")
    criteria = _criteria(conn, project, now)
    passed = all(c.passed for c in criteria)
    after = Stage.SCREENED if passed else Stage.DECLARED
    with conn.transaction():
        _move(conn, project_id, Stage.DECLARED, after, now)
        _log(conn, project_id, "screen", Stage.DECLARED, after, actor, now,
             passed=passed, criteria=criteria)  # fmt: skip
    return Screening(read_project(conn, project_id), passed, tuple(criteria))


def _move(
    conn: psycopg.Connection[Any], project_id: str, before: Stage, after: Stage, now: datetime
) -> None:
    """Set the stage if it still is ``before`` (a concurrent action loses, and is told)."""
    done = conn.execute(
        "UPDATE projects SET stage = %s, updated_at = %s WHERE id = %s AND stage = %s",
        (after.value, now, project_id, before.value),
    )
    if done.rowcount != 1:
        raise TransitionError(f"project {project_id} is no longer {before}")


def _step(
    conn: psycopg.Connection[Any],
    project_id: str,
    action: Literal["admit", "retire"],
    actor: Actor,
    now: datetime,
    *,
    note: str | None,
) -> Project:
    before, after = {
        "admit": (Stage.SCREENED, Stage.ADMITTED),
        "retire": (Stage.ADMITTED, Stage.RETIRED),
    }[action]
    _require(actor, action, "bureau", "admin")
    project = read_project(conn, project_id)
    if project.stage is not before:
        raise TransitionError(f"project {project_id} is {project.stage}, not {before}")
    with conn.transaction():
        _move(conn, project_id, before, after, now)
        _log(conn, project_id, action, before, after, actor, now, note=note)
    return read_project(conn, project_id)


def admit(
    conn: psycopg.Connection[Any], project_id: str, actor: Actor, now: datetime,
    note: str | None = None,
) -> Project:  # fmt: skip
    """Take a screened project into the library (入库)."""
    return _step(conn, project_id, "admit", actor, now, note=note)


def retire(
    conn: psycopg.Connection[Any], project_id: str, actor: Actor, now: datetime,
    note: str | None = None,
) -> Project:  # fmt: skip
    """Take a project out of the library (ended, or no longer eligible)."""
    return _step(conn, project_id, "retire", actor, now, note=note)


@dataclass(frozen=True)
class DriverValue:
    month: date
    value: Decimal
    source: str


def set_drivers(
    conn: psycopg.Connection[Any], project_id: str, values: Sequence[DriverValue], actor: Actor
) -> int:
    """Record (or correct) driver values per month; the owner or an admin. One transaction."""
    project = read_project(conn, project_id)
    _require(actor, "report drivers of", "enterprise", "admin", owner=project.owner_code)
    if project.params.driver == "none":
        raise ProjectError(f"project {project_id}'s method uses no driver")
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO project_drivers (project_id, month, value, source)"
            " VALUES (%s, %s, %s, %s) ON CONFLICT (project_id, month)"
            " DO UPDATE SET value = EXCLUDED.value, source = EXCLUDED.source",
            [(project_id, v.month, v.value, v.source) for v in values],
        )
    return len(values)
