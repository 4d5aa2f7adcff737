"""Every database read of the project library, in bulk: the SQL side of the reductions.

Projects read the registry (meters), analytics' booked rollups, the ledger's factor library,
the API's consents and finance's loans through these functions; they write only their own
tables (:mod:`projects.library`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from fractions import Fraction
from typing import Any

import psycopg
from psycopg.rows import dict_row

from accounts.ledger import Factor
from projects._errors import UnknownProjectError
from projects._inputs import MeterMonth, ProjectInputs, ProjectMeter
from projects._methods import months_between
from projects._model import MeterRole, MethodParams, Project, Stage, Transition

_PROJECT = """
SELECT p.id, trim(p.owner_code) AS owner_code, p.title, p.purpose, p.area, p.subcategory,
       p.location, p.total_investment_yuan, p.start_of_operation, p.expected_annual_tco2,
       p.method, p.method_params, p.stage, p.declared_at, p.updated_at,
       coalesce(jsonb_object_agg(pm.meter_id, pm.role) FILTER (WHERE pm.meter_id IS NOT NULL),
                '{}') AS meters
FROM projects p LEFT JOIN project_meters pm ON pm.project_id = p.id
"""
_FACTORS = """
SELECT id, version, kind, subject, series, value, unit, ncv, ncv_unit, carbon_content, oxidation,
       guideline, source, document, data_year, published, region, valid_from, valid_to, verify
FROM factors WHERE kind IN ('grid', 'fuel', 'heat')
"""
# A meter's activity is that of the quantity it is booked by (as in the accounts).
_ACTIVITY = """
SELECT b.meter_id, b.month, sum(b.activity_fp) AS activity_fp, max(b.scale) AS scale,
       sum(b.covered_ms) AS covered_ms, sum(b.estimated_ms) AS estimated_ms
FROM booked_rollups b JOIN meters m ON m.id = b.meter_id AND m.quantity = b.quantity
WHERE b.meter_id = ANY(%s) AND b.month = ANY(%s)
GROUP BY b.meter_id, b.month
"""


def _project(row: dict[str, Any]) -> Project:
    return Project(
        id=row["id"],
        owner_code=row["owner_code"],
        title=row["title"],
        purpose=row["purpose"],
        area=row["area"],
        subcategory=row["subcategory"],
        location=row["location"],
        total_investment_yuan=row["total_investment_yuan"],
        start_of_operation=row["start_of_operation"],
        expected_annual_tco2=row["expected_annual_tco2"],
        method=row["method"],
        params=MethodParams.model_validate(row["method_params"]),
        meters={k: MeterRole(v) for k, v in row["meters"].items()},
        stage=Stage(row["stage"]),
        declared_at=row["declared_at"],
        updated_at=row["updated_at"],
    )


def read_projects(
    conn: psycopg.Connection[Any],
    *,
    ids: Sequence[str] | None = None,
    owner: str | None = None,
    stage: Stage | None = None,
) -> list[Project]:
    """Projects by id, owner or stage (all when no filter), in id order."""
    where: list[str] = []
    params: list[object] = []
    if ids is not None:
        where.append("p.id = ANY(%s)")
        params.append(list(ids))
    if owner is not None:
        where.append("p.owner_code = %s")
        params.append(owner)
    if stage is not None:
        where.append("p.stage = %s")
        params.append(stage.value)
    query = _PROJECT + (" WHERE " + " AND ".join(where) if where else "") + " GROUP BY p.id"
    cur = conn.cursor(row_factory=dict_row)
    rows = cur.execute(query + " ORDER BY p.id", params).fetchall()
    return [_project(r) for r in rows]


def read_project(conn: psycopg.Connection[Any], project_id: str) -> Project:
    """UnknownProjectError when there is none."""
    found = read_projects(conn, ids=[project_id])
    if not found:
        raise UnknownProjectError(project_id)
    return found[0]


def read_transitions(conn: psycopg.Connection[Any], project_id: str) -> list[Transition]:
    cur = conn.cursor(row_factory=dict_row)
    rows = cur.execute(
        "SELECT id, action, from_stage, to_stage, passed, criteria, by_role, by_name, at, note"
        " FROM project_transitions WHERE project_id = %s ORDER BY id",
        (project_id,),
    ).fetchall()
    return [Transition.model_validate(r) for r in rows]


def read_meters(conn: psycopg.Connection[Any], ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The registered meters among ``ids``: enterprise, carrier, unit (unknown ids absent)."""
    cur = conn.cursor(row_factory=dict_row)
    rows = cur.execute(
        "SELECT id, trim(enterprise_code) AS enterprise_code, carrier, unit FROM meters"
        " WHERE id = ANY(%s)",
        (list(ids),),
    ).fetchall()
    return {r["id"]: r for r in rows}


def read_factors(conn: psycopg.Connection[Any]) -> list[Factor]:
    return [Factor(*row) for row in conn.execute(_FACTORS).fetchall()]


def read_activity(
    conn: psycopg.Connection[Any], meter_ids: Sequence[str], months: Sequence[date]
) -> list[MeterMonth]:
    """Booked activity per meter and local month (exact)."""
    rows = conn.execute(_ACTIVITY, (list(meter_ids), list(months))).fetchall()
    return [
        MeterMonth(meter, month, Fraction(int(fp), 10**scale), int(covered), int(estimated))
        for meter, month, fp, scale, covered, estimated in rows
    ]


def read_drivers(conn: psycopg.Connection[Any], project_id: str) -> dict[date, Fraction]:
    rows = conn.execute(
        "SELECT month, value FROM project_drivers WHERE project_id = %s", (project_id,)
    ).fetchall()
    return {month: Fraction(value) for month, value in rows}


def read_inputs(
    conn: psycopg.Connection[Any],
    project: Project,
    months: Sequence[date],
    as_of: datetime,
    factors: Sequence[Factor] | None = None,
) -> ProjectInputs:
    """Everything the reductions of ``project`` over ``months`` (plus its baseline) need."""
    wanted = set(months)
    if project.params.baseline_from and project.params.baseline_to:
        wanted |= set(months_between(project.params.baseline_from, project.params.baseline_to))
    registered = read_meters(conn, list(project.meters))
    meters = [
        ProjectMeter(mid, role, registered[mid]["carrier"], registered[mid]["unit"])
        for mid, role in sorted(project.meters.items())
        if mid in registered
    ]
    return ProjectInputs(
        project=project,
        meters=meters,
        activity=read_activity(conn, [m.id for m in meters], sorted(wanted)),
        drivers=read_drivers(conn, project.id),
        factors=list(factors) if factors is not None else read_factors(conn),
        as_of=as_of,
    )


def consented_owners(conn: psycopg.Connection[Any], bank_id: str) -> set[str]:
    """Enterprises with an active consent for ``bank_id`` (scope ``account``), as of now."""
    rows = conn.execute(
        "SELECT trim(enterprise_code) FROM consents WHERE bank_id = %s AND revoked_at IS NULL"
        " AND expires_at > now() AND 'account' = ANY(scope)",
        (bank_id,),
    ).fetchall()
    return {r[0] for r in rows}


def known_bank(conn: psycopg.Connection[Any], bank_id: str) -> bool:
    return conn.execute("SELECT 1 FROM banks WHERE id = %s", (bank_id,)).fetchone() is not None


def read_project_loans(
    conn: psycopg.Connection[Any], bank_id: str, until: date
) -> list[dict[str, Any]]:
    """The bank's loans that finance a project, each as last reported on or before ``until``
    (finance's ``loans``; finance is its only writer)."""
    cur = conn.cursor(row_factory=dict_row)
    return cur.execute(
        "SELECT DISTINCT ON (loan_id) bank_id, loan_id, as_of,"
        " trim(borrower_credit_code) AS borrower, product, committed_yuan, outstanding_yuan,"
        " currency, start_date, maturity_date, project_id"
        " FROM loans WHERE bank_id = %s AND project_id IS NOT NULL AND as_of <= %s"
        " ORDER BY loan_id, as_of DESC",
        (bank_id, until),
    ).fetchall()
