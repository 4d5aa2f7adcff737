"""Enterprises: the ones a key can see, their registry entry, economic data and audit log."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal, Self

from fastapi import APIRouter, Body
from psycopg.rows import dict_row
from pydantic import BaseModel, Field, model_validator

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

Money = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=4)]


class EconomicRecord(BaseModel):
    """Economic data of one calendar month (``YYYY-MM``) or year (``YYYY``), money in 万元."""

    period: str = Field(pattern=r"^[0-9]{4}(-(0[1-9]|1[0-2]))?$", examples=["2026-05", "2025"])
    value_added: Money | None = Field(None, description="工业增加值, 万元")
    revenue: Money | None = Field(None, description="营业收入, 万元")
    output_quantity: Money | None = None
    output_unit: str | None = Field(None, min_length=1, max_length=40)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (self.output_quantity is None) != (self.output_unit is None):
            raise ValueError("output_quantity and output_unit go together")
        if self.value_added is None and self.revenue is None and self.output_quantity is None:
            raise ValueError("give at least one of value_added, revenue, output_quantity")
        return self

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
    periods = [(r.kind, r.start) for r in body.records]
    if len(set(periods)) != len(periods):
        raise Problem(422, "records: the same period appears twice")
    source = f"api:{access.principal.key_id}"
    async with access.conn.transaction():
        cur = access.conn.cursor()
        await cur.executemany(
            "INSERT INTO economic_data (enterprise_code, period_kind, period_start, value_added,"
            " revenue, output_quantity, output_unit, source)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (enterprise_code, period_kind, period_start) DO UPDATE SET"
            " value_added = excluded.value_added, revenue = excluded.revenue,"
            " output_quantity = excluded.output_quantity, output_unit = excluded.output_unit,"
            " source = excluded.source, submitted_at = now()",
            [
                (code, r.kind, r.start, r.value_added, r.revenue, r.output_quantity,
                 r.output_unit, source)
                for r in body.records
            ],
        )  # fmt: skip
    return Stored(stored=len(body.records))


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
