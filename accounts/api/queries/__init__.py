"""The API's SQL, one module per resource, kept out of the routes.

A route decides who may ask, audits, pages and shapes the answer; the functions here only run
their statements on the route's connection (no connection or round trip of their own) and hand
back the rows, as dictionaries keyed by column name.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

Row = dict[str, Any]
"""A row by column name, as ``psycopg.rows.dict_row`` makes it."""


async def fetch_all(
    conn: psycopg.AsyncConnection, query: str | sql.SQL | sql.Composed, params: Any = None
) -> list[Row]:
    """Every row of ``query``, by column name."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(query, params)
    return await cur.fetchall()


async def fetch_one(
    conn: psycopg.AsyncConnection, query: str | sql.SQL | sql.Composed, params: Any = None
) -> Row:
    """The one row of ``query`` (an aggregate, or a view of one row)."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(query, params)
    row = await cur.fetchone()
    assert row is not None  # noqa: S101 - the query has exactly one row
    return row
