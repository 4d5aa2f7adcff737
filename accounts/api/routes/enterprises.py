"""Enterprises: the ones a key can see, their registry entry, economic data and audit log."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Body
from pydantic import BaseModel, Field

from accounts.api._audit import AuditRecord
from accounts.api._common import EnterpriseCode
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
from accounts.api.queries import enterprises as queries
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


@router.get("/enterprises", response_model=Page[Enterprise], summary="enterprises this key sees")
async def enterprises(
    access: DbAccessDep, limit: LimitQuery = 100, cursor: CursorQuery = None
) -> Page[Enterprise]:
    p = access.principal
    await access.audit("enterprises.list", p.enterprise_code, "granted")
    rows = await queries.visible(access.conn, p, after=after_key(cursor), limit=limit + 1)
    items = [Enterprise.model_validate(row) for row in rows]
    return page(items, limit, lambda e: (e.code,))


@router.get("/enterprises/{code}", response_model=Enterprise, summary="an enterprise")
async def enterprise(access: DbAccessDep, code: EnterpriseCode) -> Enterprise:
    await access.enterprise(code, "enterprise.read")
    return Enterprise.model_validate(await queries.enterprise(access.conn, code))


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
    total_assets: Decimal | None = Field(None, description="资产总额 at the period's end, 万元")
    total_equity: Decimal | None = Field(None, description="所有者权益, 万元 (may be negative)")
    total_debt: Decimal | None = Field(None, description="负债 (borrowings, bonds), 万元")
    evic: Decimal | None = Field(None, description="EVIC of a listed company, 万元")

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
    rows = await queries.economic_data(access.conn, code, after=after, limit=limit + 1)
    items = [EconomicRow.model_validate(r) for r in rows]
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
    rows = await queries.audit_entries(
        access.conn, code, before=before[0] if before else 2**62, limit=limit + 1
    )
    items = [AuditRecord.model_validate(row) for row in rows]
    return page(items, limit, lambda r: (r.id,))
