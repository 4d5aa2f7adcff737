"""Consents: an enterprise lets a bank read its data (a scope, until an expiry), and can revoke.

A bank sees an enterprise only through a consent that is unrevoked, unexpired and covers the
scope of the request; otherwise the enterprise does not exist for it (the API answers 404
exactly as for an unknown code). A new grant to the same bank replaces the previous one.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

import psycopg
from psycopg.rows import dict_row
from pydantic import BaseModel

from carbonledger.errors import AccessError


class Scope(StrEnum):
    ACCOUNT = "account"
    """accounts, derivations, grade history, watchlist events"""
    TIMESERIES = "timeseries"
    """time series of energy and emissions, bulk export"""


class ConsentInfo(BaseModel):
    id: int
    enterprise_code: str
    bank_id: str
    scope: list[Scope]
    granted_at: datetime
    expires_at: datetime
    granted_by: str
    revoked_at: datetime | None
    revoked_by: str | None
    status: Literal["active", "expired", "revoked"]


_COLUMNS = (
    "id, trim(enterprise_code) AS enterprise_code, bank_id, scope, granted_at, expires_at,"
    " granted_by, revoked_at, revoked_by,"
    " CASE WHEN revoked_at IS NOT NULL THEN 'revoked'"
    " WHEN expires_at <= now() THEN 'expired' ELSE 'active' END AS status"
)


async def grant_consent(
    conn: psycopg.AsyncConnection,
    enterprise_code: str,
    bank_id: str,
    scope: list[Scope],
    expires_at: datetime,
    *,
    by: str,
) -> ConsentInfo:
    """Grant (or replace) the bank's consent; AccessError for an unknown enterprise or bank."""
    if not scope:
        raise AccessError("a consent needs at least one scope")
    cur = conn.cursor(row_factory=dict_row)
    try:
        async with conn.transaction():
            await cur.execute(
                "UPDATE consents SET revoked_at = now(), revoked_by = %s"
                " WHERE enterprise_code = %s AND bank_id = %s AND revoked_at IS NULL",
                (by, enterprise_code, bank_id),
            )
            await cur.execute(
                "INSERT INTO consents (enterprise_code, bank_id, scope, expires_at, granted_by)"
                f" VALUES (%s, %s, %s, %s, %s) RETURNING {_COLUMNS}",
                (enterprise_code, bank_id, sorted({s.value for s in scope}), expires_at, by),
            )
            row = await cur.fetchone()
    except psycopg.errors.ForeignKeyViolation as exc:
        what = "bank" if "bank" in (exc.diag.constraint_name or "") else "enterprise"
        name = bank_id if what == "bank" else enterprise_code
        raise AccessError(f"unknown {what} {name}") from exc
    except psycopg.errors.CheckViolation as exc:
        raise AccessError("a consent must expire after it is granted") from exc
    assert row is not None  # noqa: S101 - RETURNING gives the row
    return ConsentInfo.model_validate(row)


async def revoke_consent(
    conn: psycopg.AsyncConnection, enterprise_code: str, bank_id: str, by: str
) -> ConsentInfo:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "UPDATE consents SET revoked_at = now(), revoked_by = %s"
        " WHERE enterprise_code = %s AND bank_id = %s AND revoked_at IS NULL"
        f" RETURNING {_COLUMNS}",
        (by, enterprise_code, bank_id),
    )
    row = await cur.fetchone()
    if row is None:
        raise AccessError(f"{enterprise_code} has no unrevoked consent for bank {bank_id}")
    return ConsentInfo.model_validate(row)


async def list_consents(
    conn: psycopg.AsyncConnection,
    *,
    enterprise_code: str | None = None,
    bank_id: str | None = None,
    after: int = 0,
    limit: int = 1_000,
) -> list[ConsentInfo]:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        f"SELECT {_COLUMNS} FROM consents WHERE id > %s"
        " AND (%s::text IS NULL OR enterprise_code = %s)"
        " AND (%s::text IS NULL OR bank_id = %s) ORDER BY id LIMIT %s",
        (after, enterprise_code, enterprise_code, bank_id, bank_id, limit),
    )
    return [ConsentInfo.model_validate(row) for row in await cur.fetchall()]


CONSENTED = (
    "SELECT 1 FROM consents WHERE bank_id = %(bank)s AND enterprise_code = %(code)s"
    " AND revoked_at IS NULL AND expires_at > now() AND %(scope)s = ANY (scope)"
)
"""SQL that finds a valid consent (parameters bank, code, scope); queries embed it in EXISTS
or, in the audit batch (``_audit.py``), in a LATERAL join."""
