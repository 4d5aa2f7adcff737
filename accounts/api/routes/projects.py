"""Climate projects over HTTP: an enterprise declares its projects and reports their drivers;
the bureau screens, admits and retires them; whoever sees the owner enterprise (itself, the
bureau, a bank with the owner's consent) reads a project, its measured reductions and their
derivation. The work is :mod:`projects`'; every decision is written to the audit log.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, TypeVar

import orjson
import psycopg
from fastapi import APIRouter, Body, Path, Query, Response
from pydantic import BaseModel, Field

from accounts.api._common import period_query
from accounts.api._keys import Principal, Role
from accounts.api._problems import Problem
from accounts.api.deps import Access, AccessDep
from projects import (
    Declaration,
    DeclarationError,
    MethodError,
    Project,
    ProjectError,
    RoleError,
    Stage,
    Transition,
    TransitionError,
    UnknownProjectError,
    disclosure,
    library,
    read_projects,
    read_transitions,
    reductions,
)

router = APIRouter(tags=["projects"])

T = TypeVar("T")
BUREAU = (Role.BUREAU, Role.ADMIN)
OWNER = (Role.ENTERPRISE, Role.ADMIN)
ProjectId = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
PeriodQuery = Annotated[
    str, Query(max_length=20, description="`YYYY-MM`, `YYYY`, `mtd` or `rolling12`")
]


class ProjectWithHistory(BaseModel):
    project: Project
    history: list[Transition]


class Screened(BaseModel):
    project: Project
    passed: bool
    criteria: list[dict[str, Any]]


class DriverRow(BaseModel):
    month: date = Field(description="first day of the month")
    value: Decimal
    source: str = Field(min_length=1, max_length=200)


class StepNote(BaseModel):
    note: str | None = Field(None, max_length=1_000)


def _actor(p: Principal) -> library.Actor:
    who = f"{p.name} ({p.key_id})"
    if p.role is Role.ENTERPRISE:
        return library.Actor("enterprise", who, p.enterprise_code)
    if p.role is Role.BUREAU:
        return library.Actor("bureau", who)
    return library.Actor("admin", who)


async def _run(access: Access, call: Callable[[psycopg.Connection[Any]], T]) -> T:
    def run() -> T:
        with access.state.ledger_pool.connection() as conn:
            return call(conn)

    try:
        return await asyncio.to_thread(run)
    except UnknownProjectError as exc:
        raise Problem(404, str(exc)) from exc
    except RoleError as exc:
        raise Problem(403, str(exc)) from exc
    except DeclarationError as exc:
        raise Problem(422, str(exc)) from exc
    except (TransitionError, MethodError, ProjectError) as exc:
        raise Problem(409, str(exc)) from exc


async def _visible(
    access: Access, project_id: str, action: str, roles: tuple[Role, ...]
) -> Project:
    """The project, once its owner is visible to the key (404 as for an unknown project)."""
    found = await _run(access, lambda conn: read_projects(conn, ids=[project_id]))
    if not found:
        await access.audit(action, None, "denied")
        raise Problem(404, f"project {project_id} not found")
    try:
        await access.enterprise(found[0].owner_code, action, roles=roles)
    except Problem as exc:
        if exc.status == 404:
            raise Problem(404, f"project {project_id} not found") from exc
        raise
    return found[0]


@router.post("/projects", status_code=201, response_model=Project, summary="declare a project")
async def declare(access: AccessDep, body: Annotated[Declaration, Body()]) -> Project:
    await access.enterprise(body.owner_code, "project.declare", roles=OWNER)
    actor, now = _actor(access.principal), datetime.now(UTC)
    return await _run(access, lambda conn: library.declare(conn, body, actor, now))


@router.get(
    "/projects",
    response_model=list[Project],
    summary="the library: every project (bureau), the own ones (an enterprise)",
)
async def list_projects(
    access: AccessDep, stage: Stage | None = None, owner: str | None = Query(None, max_length=18)
) -> list[Project]:
    p = access.principal
    if p.role is Role.ENTERPRISE:
        owner = p.enterprise_code
        await access.audit("project.list", owner, "granted")
    else:
        await access.role("project.list", *BUREAU)
    return await _run(access, lambda conn: read_projects(conn, owner=owner, stage=stage))


@router.get(
    "/projects/{project_id}",
    response_model=ProjectWithHistory,
    summary="a project and its logged transitions (with the screening criteria)",
)
async def show(access: AccessDep, project_id: ProjectId) -> ProjectWithHistory:
    found = await _visible(access, project_id, "project.read", tuple(Role))
    history = await _run(access, lambda conn: read_transitions(conn, project_id))
    return ProjectWithHistory(project=found, history=history)


@router.post(
    "/projects/{project_id}/screen",
    response_model=Screened,
    summary="check the published criteria (bureau); all met: screened",
)
async def screen(access: AccessDep, project_id: ProjectId) -> Screened:
    await _visible(access, project_id, "project.screen", BUREAU)
    actor, now = _actor(access.principal), datetime.now(UTC)
    result = await _run(access, lambda conn: library.screen(conn, project_id, actor, now))
    return Screened(
        project=result.project,
        passed=result.passed,
        criteria=[c.as_json() for c in result.criteria],
    )


@router.post(
    "/projects/{project_id}/admit", response_model=Project, summary="take into the library"
)
async def admit(
    access: AccessDep, project_id: ProjectId, body: Annotated[StepNote | None, Body()] = None
) -> Project:
    await _visible(access, project_id, "project.admit", BUREAU)
    actor, now, note = _actor(access.principal), datetime.now(UTC), body.note if body else None
    return await _run(access, lambda conn: library.admit(conn, project_id, actor, now, note=note))


@router.post("/projects/{project_id}/retire", response_model=Project, summary="retire a project")
async def retire(
    access: AccessDep, project_id: ProjectId, body: Annotated[StepNote | None, Body()] = None
) -> Project:
    await _visible(access, project_id, "project.retire", BUREAU)
    actor, now, note = _actor(access.principal), datetime.now(UTC), body.note if body else None
    return await _run(access, lambda conn: library.retire(conn, project_id, actor, now, note=note))


@router.put(
    "/projects/{project_id}/drivers",
    summary="baseline driver values per month (the owner): production output or degree-days",
)
async def drivers(
    access: AccessDep, project_id: ProjectId, body: Annotated[list[DriverRow], Body(min_length=1)]
) -> dict[str, int]:
    await _visible(access, project_id, "project.drivers", OWNER)
    if any(row.month.day != 1 for row in body):
        raise Problem(422, "each month must be the first day of a month")
    values = [library.DriverValue(r.month, r.value, r.source) for r in body]
    actor = _actor(access.principal)
    count = await _run(access, lambda conn: library.set_drivers(conn, project_id, values, actor))
    return {"recorded": count}


@router.get(
    "/projects/{project_id}/reductions",
    summary="measured reductions per month and in total, with coverage and data-quality flags",
)
async def measured(
    access: AccessDep, project_id: ProjectId, period: PeriodQuery = "mtd"
) -> dict[str, Any]:
    body = await _reductions(access, project_id, period, "project.reductions")
    for month in body["months"]:
        month.pop("lines")
    return body


@router.get(
    "/projects/{project_id}/derivation",
    summary="how the reductions are derived: meters, baseline model and statistics, factors",
)
async def derivation(
    access: AccessDep, project_id: ProjectId, period: PeriodQuery = "mtd"
) -> dict[str, Any]:
    return await _reductions(access, project_id, period, "project.derivation")


async def _reductions(access: Access, project_id: str, period: str, action: str) -> dict[str, Any]:
    """The project's measured reductions over ``period`` with every line, once ``action`` is
    allowed and logged."""
    wanted = period_query(period)
    await _visible(access, project_id, action, tuple(Role))
    now = datetime.now(UTC)
    found = await _run(access, lambda conn: reductions(conn, project_id, wanted, now))
    return found.as_json()


@router.get(
    "/projects/facility/disclosure",
    summary="a bank's per-loan table for the carbon emission reduction facility (JSON or CSV)",
    responses={200: {"content": {"text/csv": {}}}},
)
async def facility_disclosure(
    access: AccessDep,
    year: Annotated[int, Query(ge=2000, le=2100)],
    format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
    bank: Annotated[str | None, Query(max_length=64, description="bureau and admin keys")] = None,
) -> Response:
    p = access.principal
    await access.role("project.disclosure", Role.BANK, *BUREAU)
    bank_id = p.bank_id if p.role is Role.BANK else bank
    if bank_id is None:
        raise Problem(422, "bank: required for a bureau or admin key")
    now = datetime.now(UTC)
    table = await _run(access, lambda conn: disclosure(conn, bank_id, year, now))
    for owner in sorted({line.owner_code for line in table.lines}):
        await access.audit("project.disclosure", owner, "granted")
    if format == "csv":
        return Response(table.as_csv(), media_type="text/csv; charset=utf-8")
    return Response(orjson.dumps(table.as_json()), media_type="application/json")
