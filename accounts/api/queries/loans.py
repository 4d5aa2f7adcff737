"""Loan books as the API reads them: a bank's own loans, who lends to an enterprise, which
borrower codes the registry knows (finance owns ``loans``; these only read it)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import psycopg

from accounts.api.queries import Row, fetch_all, fetch_one


async def registered(conn: psycopg.AsyncConnection, codes: Sequence[str]) -> set[str]:
    """The codes among ``codes`` that the registry holds."""
    rows = await fetch_all(
        conn, "SELECT trim(code) AS code FROM enterprises WHERE code = ANY(%s)", (list(codes),)
    )
    return {r["code"] for r in rows}


async def newest_as_of(conn: psycopg.AsyncConnection, bank_id: str) -> date | None:
    row = await fetch_one(
        conn, "SELECT max(as_of) AS as_of FROM loans WHERE bank_id = %s", (bank_id,)
    )
    return row["as_of"]  # type: ignore[no-any-return]


async def loans_of(
    conn: psycopg.AsyncConnection, bank_id: str, as_of: date, *, after: str, limit: int
) -> list[Row]:
    """The bank's loans as reported at ``as_of``, by loan id after ``after``."""
    return await fetch_all(
        conn,
        "SELECT loan_id, as_of, trim(borrower_credit_code) AS borrower_credit_code, product,"
        " green_category, purpose, outstanding_yuan, committed_yuan, currency, start_date,"
        " maturity_date, interest_rate, project_id, source, uploaded_at"
        " FROM loans WHERE bank_id = %s AND as_of = %s AND loan_id > %s"
        " ORDER BY loan_id LIMIT %s",
        (bank_id, as_of, after, limit),
    )


async def lenders(conn: psycopg.AsyncConnection, code: str) -> list[Row]:
    """The banks holding a loan record of ``code`` (no amounts: the enterprise's view)."""
    return await fetch_all(
        conn,
        "SELECT h.bank_id, b.name AS bank_name, h.first_as_of, h.last_as_of, h.loans"
        " FROM loan_holders h JOIN banks b ON b.id = h.bank_id"
        " WHERE h.enterprise_code = %s ORDER BY h.bank_id",
        (code,),
    )


async def bank_name(conn: psycopg.AsyncConnection, bank_id: str) -> str:
    row = await fetch_one(
        conn, "SELECT coalesce(max(name), %s) AS name FROM banks WHERE id = %s", (bank_id, bank_id)
    )
    return str(row["name"])
