"""An enterprise's account, its derivation and its grade history (the ledger's, served as is).

A stored account comes with the access decision: the audit statement reads its version stamp
(version, computed_at, and the latest grade time) and, unless the worker's body cache holds the
body of that stamp, its stored detail and grades (``_audit.py``, ``_stored.py``); so a read of a
stored account costs the request no query of its own, and a repeated one no serialisation
either; ``If-None-Match`` answers 304. Anything else is the ledger's (blocking psycopg): its
functions run in worker threads on the ledger pool.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query, Request, Response

from accounts.api._common import EnterpriseCode, period_query
from accounts.api._etag import conditional, etag_of
from accounts.api._problems import Problem
from accounts.api._stored import dump, stored_body
from accounts.api.deps import Access, AccessDep
from accounts.ledger import (
    Account,
    Derivation,
    GradeRecord,
    explain_account,
    get_account,
)
from accounts.ledger import grade_history as ledger_grade_history
from carbonledger.errors import UnknownEnterpriseError

router = APIRouter(tags=["accounts"])

PeriodQuery = Annotated[
    str,
    Query(
        max_length=20,
        description="`YYYY-MM`, `YYYY`, `mtd` (month to date) or `rolling12`",
        examples=["mtd", "2026-05", "2025", "rolling12"],
    ),
]
T = TypeVar("T")
_JSON = "application/json"
_NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "the client's copy is current"}
}


async def _ledger(access: Access, call: Callable[[Any], T], code: str) -> T:
    def run() -> T:
        with access.state.ledger_pool.connection() as conn:
            return call(conn)

    try:
        return await asyncio.to_thread(run)
    except UnknownEnterpriseError as exc:
        raise Problem(404, f"enterprise {code} not found") from exc


@router.get(
    "/enterprises/{code}/account",
    response_model=Account,
    responses=_NOT_MODIFIED,
    summary="the carbon account of a month, year, the rolling 12 months or month to date",
)
async def account(
    request: Request, access: AccessDep, code: EnterpriseCode, period: PeriodQuery = "mtd"
) -> Response:
    wanted = period_query(period)
    key = (code, wanted.kind, wanted.start)
    held = access.state.bodies.get(key)
    decision = await access.enterprise(
        code, "account.read", account=key[1:], cached=held.stamp if held else None
    )
    if decision.stamp is None:  # not stored: computed on demand by the ledger
        settings = access.state.settings.accounts
        result = await _ledger(
            access, lambda conn: get_account(conn, code, wanted, settings=settings), code
        )
        body = dump(result)
        return conditional(request, body, etag_of(body), _JSON)
    if decision.detail is not None:
        held = access.state.bodies.put(
            key, decision.stamp, stored_body(decision.detail, decision.grades)
        )
    assert held is not None  # noqa: S101 - no detail: the statement found the stamp held
    return conditional(request, held.body, held.etag, _JSON)


@router.get(
    "/enterprises/{code}/derivation",
    response_model=Derivation,
    responses=_NOT_MODIFIED,
    summary="how the account was computed: meters, activity, factors with sources, totals, grade",
)
async def derivation(
    request: Request, access: AccessDep, code: EnterpriseCode, period: PeriodQuery = "mtd"
) -> Response:
    wanted = period_query(period)
    await access.enterprise(code, "derivation.read")
    settings = access.state.settings.accounts
    result = await _ledger(
        access, lambda conn: explain_account(conn, code, wanted, settings=settings), code
    )
    body = dump(result)
    return conditional(request, body, etag_of(body), _JSON)


@router.get(
    "/enterprises/{code}/grades",
    response_model=list[GradeRecord],
    responses=_NOT_MODIFIED,
    summary="grade and level history, oldest period first (every period kind and model)",
)
async def grades(request: Request, access: AccessDep, code: EnterpriseCode) -> Response:
    await access.enterprise(code, "grades.read")
    result = await _ledger(access, lambda conn: ledger_grade_history(conn, code), code)
    body = dump(result)
    return conditional(request, body, etag_of(body), _JSON)
