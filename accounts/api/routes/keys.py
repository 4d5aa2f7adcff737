"""API keys (admin) and ``/v1/me`` (any key)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, Path, Response
from pydantic import BaseModel, Field

from accounts.api._common import CODE_PATTERN
from accounts.api._keys import CreatedKey, KeyInfo, Role, create_key, list_keys, revoke_key
from accounts.api._pagination import CursorQuery, LimitQuery, Page, after_key, page
from accounts.api._problems import Problem
from accounts.api.deps import DbAccessDep
from carbonledger.errors import AccessError

router = APIRouter(tags=["keys"])


class Me(BaseModel):
    key_id: str
    role: Role
    name: str
    enterprise_code: str | None
    bank_id: str | None


@router.get("/me", response_model=Me, summary="the calling key")
async def me(access: DbAccessDep) -> Me:
    principal = access.principal
    return Me(
        key_id=principal.key_id,
        role=principal.role,
        name=principal.name,
        enterprise_code=principal.enterprise_code,
        bank_id=principal.bank_id,
        verifier_id=principal.verifier_id,
    )


class NewKey(BaseModel):
    role: Role
    name: str = Field(min_length=1, max_length=200)
    enterprise_code: str | None = Field(None, pattern=CODE_PATTERN)
    bank_id: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")
    bank_name: str | None = Field(None, min_length=1, max_length=200)
    verifier_id: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")
    expires_at: datetime | None = None
    rate_per_s: float | None = Field(None, gt=0, le=1e6)
    burst: int | None = Field(None, ge=1, le=1_000_000)


@router.get("/keys", response_model=Page[KeyInfo], summary="list API keys (admin)")
async def keys(
    access: DbAccessDep, limit: LimitQuery = 100, cursor: CursorQuery = None
) -> Page[KeyInfo]:
    await access.role("keys.list", Role.ADMIN)
    items = await list_keys(access.conn, after=after_key(cursor), limit=limit + 1)
    return page(items, limit, lambda k: (k.id,))


@router.post(
    "/keys", response_model=CreatedKey, status_code=201, summary="create an API key (admin)"
)
async def new_key(access: DbAccessDep, body: Annotated[NewKey, Body()]) -> CreatedKey:
    await access.role("keys.create", Role.ADMIN)
    try:
        return await create_key(
            access.conn,
            body.role,
            body.name,
            enterprise_code=body.enterprise_code,
            bank_id=body.bank_id,
            bank_name=body.bank_name,
            expires_at=body.expires_at,
            rate_per_s=body.rate_per_s,
            burst=body.burst,
            verifier_id=body.verifier_id,
        )
    except AccessError as exc:
        raise Problem(422, str(exc)) from exc


@router.delete("/keys/{key_id}", status_code=204, summary="revoke an API key (admin)")
async def revoke(
    access: DbAccessDep, key_id: Annotated[str, Path(pattern=r"^clk_[a-z0-9]{10}$")]
) -> Response:
    await access.role("keys.revoke", Role.ADMIN)
    try:
        await revoke_key(access.conn, key_id)
        for token in [t for t in access.state.keys if t.startswith(f"{key_id}.")]:
            del access.state.keys[token]  # this worker forgets it now; others within key_cache_s
    except AccessError as exc:
        raise Problem(404, str(exc)) from exc
    return Response(status_code=204)
