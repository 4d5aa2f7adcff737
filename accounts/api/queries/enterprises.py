"""Enterprises a key sees, an enterprise's registry entry, its economic data and audit log.

The registry's tables (``enterprises``, ``economic_data``) are read here as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.rows import dict_row

from accounts.api._consent import CONSENTED, Scope
from accounts.api._keys import Principal
from accounts.api.queries import Row, fetch_all

_ENTERPRISE = "trim(code) AS code, name, industry_code, district, size_class"
_VISIBLE = (
    f"SELECT {_ENTERPRISE} FROM enterprises e WHERE code > %(after)s"
    " AND (%(role)s IN ('bureau', 'admin')"
    "      OR %(role)s = 'enterprise' AND code = %(code)s"
    f"     OR %(role)s = 'bank' AND EXISTS ({CONSENTED.replace('%(code)s', 'e.code')}))"
    " ORDER BY code LIMIT %(limit)s"
)
"""The enterprises a key sees, a page after ``after`` (built once, not per request)."""


async def visible(
    conn: psycopg.AsyncConnection, principal: Principal, *, after: str, limit: int
) -> list[Row]:
    """The enterprises ``principal`` sees (a bank: with an account consent), by code after
    ``after``."""
    return await fetch_all(
        conn,
        _VISIBLE,
        {
            "after": after,
            "role": principal.role.value,
            "code": principal.enterprise_code,
            "bank": principal.bank_id,
            "scope": Scope.ACCOUNT.value,
            "limit": limit,
        },
    )


async def enterprise(conn: psycopg.AsyncConnection, code: str) -> Row | None:
    """One enterprise's registry entry."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(f"SELECT {_ENTERPRISE} FROM enterprises WHERE code = %s", (code,))
    return await cur.fetchone()


async def economic_data(
    conn: psycopg.AsyncConnection, code: str, *, after: Sequence[Any] | None, limit: int
) -> list[Row]:
    """Economic data oldest period first, after the key ``after`` (period start as text, kind);
    the period named ``YYYY-MM`` or ``YYYY``."""
    return await fetch_all(
        conn,
        "SELECT CASE period_kind WHEN 'month' THEN to_char(period_start, 'YYYY-MM')"
        " ELSE to_char(period_start, 'YYYY') END AS period, value_added, revenue,"
        " output_quantity, output_unit, total_assets, total_equity, total_debt, evic, source,"
        " submitted_at"
        " FROM economic_data WHERE enterprise_code = %s"
        " AND (period_start::text, period_kind) > (%s, %s)"
        " ORDER BY period_start, period_kind LIMIT %s",
        (code, *(after or ("", "")), limit),
    )


async def audit_entries(
    conn: psycopg.AsyncConnection, code: str, *, before: int, limit: int
) -> list[Row]:
    """The audit log of one enterprise, newest first, with ids below ``before``."""
    return await fetch_all(
        conn,
        "SELECT id, at, key_id, role, principal, action, trim(enterprise_code) AS enterprise_code,"
        " outcome, method, path, query FROM audit_log"
        " WHERE enterprise_code = %s AND id < %s ORDER BY id DESC LIMIT %s",
        (code, before, limit),
    )
