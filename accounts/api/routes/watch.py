"""A bank's watchlist and webhooks, and the delivery log of its events."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, Path, Response
from pydantic import AnyHttpUrl, BaseModel, Field, field_validator

from accounts.api._common import EnterpriseCode
from accounts.api._keys import Role, random_id
from accounts.api._pagination import (
    CursorQuery,
    LimitQuery,
    Page,
    after_key,
    decode_cursor,
    page,
)
from accounts.api._problems import Problem
from accounts.api._webhooks import check_new_destination, create_event, secret_problem
from accounts.api.deps import DbAccess, DbAccessDep
from accounts.api.queries import watch as queries

router = APIRouter(tags=["watchlist and webhooks"])

WebhookId = Annotated[str, Path(pattern=r"^wh_[a-z0-9]{10}$")]


def _bank(access: DbAccess) -> str:
    assert access.principal.bank_id is not None  # noqa: S101 - checked by access.role
    return access.principal.bank_id


class Watched(BaseModel):
    enterprise_code: str
    name: str
    added_at: datetime


@router.get("/watchlist", response_model=Page[Watched], summary="enterprises this bank follows")
async def watchlist(
    access: DbAccessDep, limit: LimitQuery = 100, cursor: CursorQuery = None
) -> Page[Watched]:
    await access.role("watchlist.list", Role.BANK)
    rows = await queries.watched(
        access.conn, _bank(access), after=after_key(cursor), limit=limit + 1
    )
    items = [Watched.model_validate(r) for r in rows]
    return page(items, limit, lambda w: (w.enterprise_code,))


@router.put(
    "/watchlist/{code}",
    status_code=204,
    summary="follow a consented enterprise (its grade and data quality)",
)
async def follow(access: DbAccessDep, code: EnterpriseCode) -> Response:
    await access.role("watchlist.add", Role.BANK)
    await access.enterprise(code, "watchlist.add")
    await queries.follow(access.conn, _bank(access), code)
    return Response(status_code=204)


@router.delete("/watchlist/{code}", status_code=204, summary="stop following an enterprise")
async def unfollow(access: DbAccessDep, code: EnterpriseCode) -> Response:
    await access.role("watchlist.remove", Role.BANK)
    if not await queries.unfollow(access.conn, _bank(access), code):
        raise Problem(404, f"enterprise {code} not found")
    return Response(status_code=204)


class NewWebhook(BaseModel):
    url: AnyHttpUrl
    secret: str = Field(min_length=16, max_length=200, description="HMAC-SHA256 key")

    @field_validator("secret")
    @classmethod
    def _not_placeholder(cls, value: str) -> str:
        if problem := secret_problem(value):
            raise ValueError(problem)
        return value


class Webhook(BaseModel):
    id: str
    url: str
    created_at: datetime


@router.post("/webhooks", response_model=Webhook, status_code=201, summary="register a webhook")
async def new_webhook(access: DbAccessDep, body: Annotated[NewWebhook, Body()]) -> Webhook:
    await access.role("webhook.create", Role.BANK)
    await check_new_destination(str(body.url), access.state.settings.api)
    row = await queries.insert_webhook(
        access.conn, random_id("wh_"), _bank(access), str(body.url), body.secret
    )
    return Webhook.model_validate(row)


@router.get("/webhooks", response_model=Page[Webhook], summary="this bank's webhooks")
async def webhooks(
    access: DbAccessDep, limit: LimitQuery = 100, cursor: CursorQuery = None
) -> Page[Webhook]:
    await access.role("webhook.list", Role.BANK)
    rows = await queries.webhooks(
        access.conn, _bank(access), after=after_key(cursor), limit=limit + 1
    )
    items = [Webhook.model_validate(r) for r in rows]
    return page(items, limit, lambda w: (w.id,))


async def _own_webhook(access: DbAccess, webhook_id: str) -> None:
    if not await queries.owns_webhook(access.conn, _bank(access), webhook_id):
        raise Problem(404, f"webhook {webhook_id} not found")


@router.delete("/webhooks/{webhook_id}", status_code=204, summary="remove a webhook")
async def delete_webhook(access: DbAccessDep, webhook_id: WebhookId) -> Response:
    await access.role("webhook.delete", Role.BANK)
    await _own_webhook(access, webhook_id)
    await queries.delete_webhook(access.conn, webhook_id)
    return Response(status_code=204)


@router.post("/webhooks/{webhook_id}/ping", status_code=202, summary="queue a signed ping event")
async def ping(access: DbAccessDep, webhook_id: WebhookId) -> Response:
    await access.role("webhook.ping", Role.BANK)
    await _own_webhook(access, webhook_id)
    await create_event(access.conn, "ping", None, {}, webhook_id=webhook_id)
    return Response(status_code=202)


class Attempt(BaseModel):
    attempt: int
    at: datetime
    duration_ms: int
    response_status: int | None
    error: str | None


class Delivery(BaseModel):
    id: int
    event_id: str
    event_type: str
    enterprise_code: str | None
    status: str
    attempts: list[Attempt]
    next_attempt_at: datetime | None
    created_at: datetime
    finished_at: datetime | None


@router.get(
    "/webhooks/{webhook_id}/deliveries",
    response_model=Page[Delivery],
    summary="the delivery log: each event and every attempt, newest first",
)
async def deliveries(
    access: DbAccessDep, webhook_id: WebhookId, limit: LimitQuery = 100, cursor: CursorQuery = None
) -> Page[Delivery]:
    await access.role("webhook.deliveries", Role.BANK)
    await _own_webhook(access, webhook_id)
    before = decode_cursor(cursor, int)
    rows = await queries.deliveries(
        access.conn, webhook_id, before=before[0] if before else 2**62, limit=limit + 1
    )
    items = [Delivery.model_validate(r) for r in rows]
    return page(items, limit, lambda d: (d.id,))
