"""Enterprises: the ones a key can see, their registry entry, economic data and audit log."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Body
from psycopg.rows import dict_row
from pydantic import BaseModel, Field

from accounts.api._audit import AuditRecord
from accounts.api._common import EnterpriseCode
from accounts.api._consent import CONSENTED, Scope
from accounts.api._keys import OVERSIGHT, OWNERS
from accounts.api._pagination import (
    CursorQuery,
    LimitQuery,
    Page,
    after_key,
    decode_cursor,
    page,
)
from accounts.api._problems import Problem
from accounts.api.deps import DbAccessDep
from accounts.registry import (
    ECONOMIC_COLUMNS,
    Problems,
    store_economics,
    validate_economics,
)

router = APIRouter(tags=["enterprises"])


class Enterprise(BaseModel):
    code: str
    name: str
    industry_code: str
    district: str
    size_class: str | None


_ENTERPRISE = "trim(code) AS code, name, industry_code, district, size_class"
_VISIBLE = (
    f"SELECT {_ENTERPRISE} FROM enterprises e WHERE code > %(after)s"
    " AND (%(role)s IN ('bureau', 'admin')"
    "      OR %(role)s = 'enterprise' AND code = %(code)s"
    f"     OR %(role)s = 'bank' AND EXISTS ({CONSENTED.replace('%(code)s', 'e.code')}))"
    " ORDER BY code LIMIT %(limit)s"
)
"""The enterprises a key sees, a page after ``after`` (built once, not per request)."""


@router.get("/enterprises", response_model=Page[Enterprise], summary="enterprises this key sees")
async def enterprises(
    access: DbAccessDep, limit: LimitQuery = 100, cursor: CursorQuery = None
) -> Page[Enterprise]:
    p = access.principal
    await access.audit("enterprises.list", p.enterprise_code, "granted")
    cur = access.conn.cursor(row_factory=dict_row)
    await cur.execute(
        _VISIBLE,
        {
            "after": after_key(cursor),
            "role": p.role.value,
            "code": p.enterprise_code,
            "bank": p.bank_id,
            "scope": Scope.ACCOUNT.value,
            "limit": limit + 1,
        },
    )
    items = [Enterprise.model_validate(row) for row in await cur.fetchall()]
    return page(items, limit, lambda e: (e.code,))


@router.get("/enterprises/{code}", response_model=Enterprise, summary="an enterprise")
async def enterprise(access: DbAccessDep, code: EnterpriseCode) -> Enterprise:
    await access.enterprise(code, "enterprise.read")
    cur = access.conn.cursor(row_factory=dict_row)
    await cur.execute(f"SELECT {_ENTERPRISE} FROM enterprises WHERE code = %s", (code,))
    return Enterprise.model_validate(await cur.fetchone())


# --- economic data ------------------------------------------------------------------------------


class EconomicRecord(BaseModel):
    """Economic data of one calendar month (``YYYY-MM``) or year (``YYYY``), money in 万元.

    The body's shape only: the rules (periods, amounts, which fields go together) are the
    registry's, the same for a CSV import, this upload and the simulator.
    """

    period: str = Field(examples=["2026-05", "2025"])
    value_added: Decimal | None = Field(None, description="工业增加值, 万元")
    revenue: Decimal | None = Field(None, description="营业收入, 万元")
    output_quantity: Decimal | None = None
    output_unit: str | None = Field(None, max_length=40)

    def row(self, code: str) -> dict[str, str]:
        """The record as the registry's import columns (text, as in a CSV file)."""
        values = self.model_dump(exclude_none=True)
        return {"enterprise_code": code, **{k: str(v) for k, v in values.items()}}

    @property
    def kind(self) -> Literal["month", "year"]:
        return "month" if "-" in self.period else "year"

    @property
    def start(self) -> date:
        year, _, month = self.period.partition("-")
        return date(int(year), int(month or 1), 1)


class EconomicUpload(BaseModel):
    records: list[EconomicRecord] = Field(min_length=1, max_length=1_000)


class EconomicRow(EconomicRecord):
    source: str
    submitted_at: datetime


class Stored(BaseModel):
    stored: int


@router.post(
    "/enterprises/{code}/economic-data",
    response_model=Stored,
    summary="upload economic data (the enterprise itself, or an admin); replaces the same periods",
)
async def upload_economic_data(
    access: DbAccessDep, code: EnterpriseCode, body: Annotated[EconomicUpload, Body()]
) -> Stored:
    await access.enterprise(code, "economic_data.write", roles=OWNERS)
    problems = Problems(Path("body.records"))
    records = validate_economics(
        [(i, {c: "" for c in ECONOMIC_COLUMNS} | r.row(code)) for i, r in enumerate(body.records)],
        problems,
        registered={code},
    )
    if problems.count:
        errors = [
            {"location": f"body.records.{line}.{field}", "message": message}
            for line, field, message in problems.found
        ]
        detail = "; ".join(f"{e['location']}: {e['message']}" for e in errors)
        raise Problem(422, detail, errors=errors)
    stored = await store_economics(access.conn, records, f"api:{access.principal.key_id}")
    return Stored(stored=stored)


@router.get(
    "/enterprises/{code}/economic-data",
    response_model=Page[EconomicRow],
    summary="an enterprise's economic data, oldest period first",
)
async def economic_data(
    access: DbAccessDep, code: EnterpriseCode, limit: LimitQuery = 100, cursor: CursorQuery = None
) -> Page[EconomicRow]:
    await access.enterprise(code, "economic_data.read")
    after = decode_cursor(cursor, str, str)
    cur = access.conn.cursor(row_factory=dict_row)
    await cur.execute(
        "SELECT CASE period_kind WHEN 'month' THEN to_char(period_start, 'YYYY-MM')"
        " ELSE to_char(period_start, 'YYYY') END AS period, value_added, revenue,"
        " output_quantity, output_unit, source, submitted_at"
        " FROM economic_data WHERE enterprise_code = %s"
        " AND (period_start::text, period_kind) > (%s, %s)"
        " ORDER BY period_start, period_kind LIMIT %s",
        (code, *(after or ("", "")), limit + 1),
    )
    items = [EconomicRow.model_validate(r) for r in await cur.fetchall()]
    return page(items, limit, lambda r: (r.start.isoformat(), r.kind))


# --- audit log ----------------------------------------------------------------------------------


@router.get(
    "/enterprises/{code}/audit",
    response_model=Page[AuditRecord],
    summary="who accessed this enterprise's data, newest first",
)
async def audit_log(
    access: DbAccessDep, code: EnterpriseCode, limit: LimitQuery = 100, cursor: CursorQuery = None
) -> Page[AuditRecord]:
    await access.enterprise(code, "audit.read", roles=OVERSIGHT)
    before = decode_cursor(cursor, int)
    cur = access.conn.cursor(row_factory=dict_row)
    await cur.execute(
        "SELECT id, at, key_id, role, principal, action, trim(enterprise_code) AS enterprise_code,"
        " outcome, method, path, query FROM audit_log"
        " WHERE enterprise_code = %s AND id < %s ORDER BY id DESC LIMIT %s",
        (code, before[0] if before else 2**62, limit + 1),
    )
    items = [AuditRecord.model_validate(row) for row in await cur.fetchall()]
    return page(items, limit, lambda r: (r.id,))
