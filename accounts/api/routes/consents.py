"""Consents: an enterprise grants, lists and revokes; a bank lists what it was granted."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Body, Path, Response
from pydantic import AwareDatetime, BaseModel, Field

from accounts.api._common import EnterpriseCode, utcnow
from accounts.api._consent import (
    ConsentInfo,
    Scope,
    grant_consent,
    list_consents,
    revoke_consent,
)
from accounts.api._keys import OVERSIGHT, OWNERS, Role
from accounts.api._pagination import CursorQuery, LimitQuery, Page, decode_cursor, page
from accounts.api._problems import Problem
from accounts.api.deps import DbAccessDep
from carbonledger.errors import AccessError

router = APIRouter(tags=["consents"])

BankId = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$", description="bank id")]


class NewConsent(BaseModel):
    bank_id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")
    scope: list[Scope] = Field(
        default_factory=lambda: [Scope.ACCOUNT, Scope.TIMESERIES], min_length=1, max_length=2
    )
    expires_at: AwareDatetime | None = Field(None, description="default: api.consent_days from now")


@router.post(
    "/enterprises/{code}/consents",
    response_model=ConsentInfo,
    status_code=201,
    summary="grant a bank read access (the enterprise itself, or an admin)",
)
async def grant(
    access: DbAccessDep, code: EnterpriseCode, body: Annotated[NewConsent, Body()]
) -> ConsentInfo:
    await access.enterprise(code, "consent.grant", roles=OWNERS)
    days = access.state.settings.api.consent_days
    expires: datetime = body.expires_at or utcnow() + timedelta(days=days)
    try:
        return await grant_consent(
            access.conn, code, body.bank_id, body.scope, expires, by=access.principal.key_id
        )
    except AccessError as exc:
        raise Problem(422, str(exc)) from exc


@router.delete(
    "/enterprises/{code}/consents/{bank_id}",
    status_code=204,
    summary="revoke a bank's consent (the enterprise itself, or an admin)",
)
async def revoke(access: DbAccessDep, code: EnterpriseCode, bank_id: BankId) -> Response:
    await access.enterprise(code, "consent.revoke", roles=OWNERS)
    try:
        await revoke_consent(access.conn, code, bank_id, access.principal.key_id)
    except AccessError as exc:
        raise Problem(404, str(exc)) from exc
    return Response(status_code=204)


@router.get(
    "/enterprises/{code}/consents",
    response_model=Page[ConsentInfo],
    summary="the consents an enterprise granted",
)
async def of_enterprise(
    access: DbAccessDep, code: EnterpriseCode, limit: LimitQuery = 100, cursor: CursorQuery = None
) -> Page[ConsentInfo]:
    await access.enterprise(code, "consent.list", roles=OVERSIGHT)
    after = decode_cursor(cursor, int)
    items = await list_consents(
        access.conn, enterprise_code=code, after=after[0] if after else 0, limit=limit + 1
    )
    return page(items, limit, lambda c: (c.id,))


@router.get(
    "/consents", response_model=Page[ConsentInfo], summary="the consents granted to this bank"
)
async def of_bank(
    access: DbAccessDep, limit: LimitQuery = 100, cursor: CursorQuery = None
) -> Page[ConsentInfo]:
    await access.role("consent.list", Role.BANK)
    after = decode_cursor(cursor, int)
    items = await list_consents(
        access.conn,
        bank_id=access.principal.bank_id,
        after=after[0] if after else 0,
        limit=limit + 1,
    )
    return page(items, limit, lambda c: (c.id,))
