"""An enterprise's account, its derivation and its grade history (the ledger's, served as is).

The ledger (:mod:`accounts`) is blocking psycopg: its functions run in worker threads on the
ledger pool. A stored account is served from the body cache when its version stamp (version,
computed_at, and the latest grade time, read with the access decision) is unchanged, so a
repeated read costs the request no query of its own; ``If-None-Match`` answers 304.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import orjson
from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from accounts.api._common import EnterpriseCode, period_query
from accounts.api._etag import conditional, etag_of
from accounts.api._problems import Problem
from accounts.api.deps import Access, AccessDep
from accounts.ledger import (
    Account,
    Derivation,
    GradeRecord,
    explain_account,
    get_account,
    stored_account,
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


def _dump(model: BaseModel | list[GradeRecord]) -> bytes:
    if isinstance(model, list):
        return orjson.dumps([m.model_dump(mode="json") for m in model])
    return orjson.dumps(model.model_dump(mode="json"))


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
    row = await access.enterprise(code, "account.read", account=(wanted.kind, wanted.start))
    stamp = None if row is None else (code, wanted.kind, wanted.start, *row)
    cached = access.state.bodies.get(stamp) if stamp else None
    if cached is None:
        settings = access.state.settings.accounts

        def read(conn: Any) -> Account:
            # the stored row by its key first: get_account's bulk reads scan at province scale
            stored = stored_account(conn, code, wanted) if row is not None else None
            return stored or get_account(conn, code, wanted, settings=settings)

        result = await _ledger(access, read, code)
        body = _dump(result)
        cached = access.state.bodies.put(stamp, body) if stamp else (body, etag_of(body))
    return conditional(request, cached[0], cached[1], _JSON)


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
    body = _dump(result)
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
    body = _dump(result)
    return conditional(request, body, etag_of(body), _JSON)
