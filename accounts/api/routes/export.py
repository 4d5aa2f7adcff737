"""Bulk export of the enterprises a key sees (a bank: its consented portfolio), streamed.

CSV comes straight from ``COPY (…) TO STDOUT`` and NDJSON from a server-side cursor, each passed
on chunk by chunk, so memory stays flat however many rows are exported. Every enterprise in the
export gets its audit-log entry before the first byte is sent.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import aclosing
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from psycopg import sql

from accounts.api._common import CODE_PATTERN, utcnow
from accounts.api._problems import Problem
from accounts.api._series import EXPORT_COLUMNS, Granularity, export_query
from accounts.api.deps import ApiState, DbAccessDep
from accounts.api.queries import export as queries

router = APIRouter(tags=["export"])

_CHUNK = 64 * 1024


class Format(StrEnum):
    CSV = "csv"
    NDJSON = "ndjson"


_MEDIA = {Format.CSV: "text/csv; charset=utf-8", Format.NDJSON: "application/x-ndjson"}


@router.get(
    "/export",
    summary="stream energy and emissions rows of every enterprise this key sees (CSV, NDJSON)",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": f"rows with columns {', '.join(EXPORT_COLUMNS)}",
            "content": {"text/csv": {}, "application/x-ndjson": {}},
        }
    },
)
async def export(
    access: DbAccessDep,
    format: Format = Format.CSV,
    granularity: Granularity = Granularity.DAY,
    start: Annotated[datetime | None, Query(alias="from")] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
    carrier: Annotated[str | None, Query(pattern=r"^[a-z_]{1,20}$")] = None,
    enterprise: Annotated[
        list[str] | None, Query(description="only these codes (repeatable)")
    ] = None,
) -> StreamingResponse:
    if enterprise and not all(_valid_code(c) for c in enterprise):
        raise Problem(422, "enterprise: each must be an 18-character unified social credit code")
    until = _aware(end) or utcnow()
    since = _aware(start) or until - timedelta(days=31)
    if since >= until:
        raise Problem(422, "from: must be before to")
    codes = await queries.visible_codes(access.conn, access.principal, enterprise)
    await asyncio.gather(*(access.audit("export.read", c, "granted") for c in [None, *codes]))
    params = {"codes": codes, "start": since, "end": until, "carrier": carrier}
    query = export_query(granularity, carrier is not None)
    stream = _csv if format is Format.CSV else _ndjson
    filename = f"carbonledger-export-{granularity.value}.{format.value}"
    return StreamingResponse(
        stream(access.state, query, params),
        media_type=_MEDIA[format],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _valid_code(code: str) -> bool:
    return re.fullmatch(CODE_PATTERN, code) is not None


def _aware(moment: datetime | None) -> datetime | None:
    if moment is not None and moment.tzinfo is None:
        raise Problem(422, "from/to: give a time zone offset, e.g. 2026-05-01T00:00:00+08:00")
    return moment


async def _csv(
    state: ApiState, query: sql.Composed, params: dict[str, Any]
) -> AsyncIterator[bytes]:
    yield (",".join(EXPORT_COLUMNS) + "\n").encode()
    async with (
        state.pool.connection() as conn,
        aclosing(queries.csv_copy(conn, query, params)) as chunks,
    ):
        buffer = bytearray()
        async for data in chunks:
            buffer += data
            if len(buffer) >= _CHUNK:
                yield bytes(buffer)
                buffer.clear()
        if buffer:
            yield bytes(buffer)


async def _ndjson(
    state: ApiState, query: sql.Composed, params: dict[str, Any]
) -> AsyncIterator[bytes]:
    async with (
        state.pool.connection() as conn,
        aclosing(queries.rows(conn, query, params)) as rows,
    ):
        buffer = bytearray()
        async for row in rows:
            buffer += orjson.dumps(dict(zip(EXPORT_COLUMNS, row, strict=True)))
            buffer += b"\n"
            if len(buffer) >= _CHUNK:
                yield bytes(buffer)
                buffer.clear()
        if buffer:
            yield bytes(buffer)
