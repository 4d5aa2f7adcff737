"""The bulk export's reads: which enterprises a key may export, and the export rows themselves.

The rows come from :func:`accounts.api._series.export_query`; here they are run as
``COPY … TO STDOUT`` (CSV) or through a server-side cursor (rows), both passed on as they
arrive so that memory stays flat. Both are generators that hold the connection's cursor:
close them (``contextlib.aclosing``) before the connection goes back to its pool.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import psycopg
from psycopg import sql
from psycopg.abc import Buffer

from accounts.api._consent import CONSENTED, Scope
from accounts.api._keys import Principal

_VISIBLE = (
    "SELECT trim(code) FROM enterprises e"
    " WHERE (%(wanted)s::text[] IS NULL OR code = ANY (%(wanted)s))"
    " AND (%(role)s IN ('bureau', 'admin')"
    "      OR %(role)s = 'enterprise' AND code = %(code)s"
    f"     OR %(role)s = 'bank' AND EXISTS ({CONSENTED.replace('%(code)s', 'e.code')}))"
    " ORDER BY code"
)


async def visible_codes(
    conn: psycopg.AsyncConnection, principal: Principal, wanted: list[str] | None
) -> list[str]:
    """The codes ``principal`` may export (a bank: with a time-series consent), of ``wanted``
    when given, in order."""
    cur = await conn.execute(
        _VISIBLE,
        {"wanted": wanted, "role": principal.role.value, "code": principal.enterprise_code,
         "bank": principal.bank_id, "scope": Scope.TIMESERIES.value},
    )  # fmt: skip
    return [row[0] for row in await cur.fetchall()]


async def csv_copy(
    conn: psycopg.AsyncConnection, query: sql.Composed, params: dict[str, Any]
) -> AsyncGenerator[Buffer]:
    """The rows of ``query`` as CSV without a header, in the chunks the server sends."""
    copy_sql = sql.SQL("COPY ({}) TO STDOUT WITH (FORMAT csv)").format(query)
    cur = conn.cursor()
    async with cur.copy(copy_sql, params) as copy:
        async for data in copy:
            yield data


async def rows(
    conn: psycopg.AsyncConnection, query: sql.Composed, params: dict[str, Any]
) -> AsyncGenerator[tuple[Any, ...]]:
    """The rows of ``query`` through a server-side cursor, fetched 5,000 at a time."""
    async with conn.transaction():
        cur = conn.cursor(name="export")
        cur.itersize = 5_000
        await cur.execute(query, params)
        async for row in cur:
            yield row
