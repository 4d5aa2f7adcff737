"""A bank's watchlist and webhooks, and the delivery log of its events."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, Path, Response
from psycopg.rows import dict_row
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
    cur = access.conn.cursor(row_factory=dict_row)
    await cur.execute(
        "SELECT trim(w.enterprise_code) AS enterprise_code, e.name, w.added_at"
        " FROM watchlist w JOIN enterprises e ON e.code = w.enterprise_code"
        " WHERE w.bank_id = %s AND w.enterprise_code > %s ORDER BY w.enterprise_code LIMIT %s",
        (_bank(access), after_key(cursor), limit + 1),
    )
    items = [Watched.model_validate(r) for r in await cur.fetchall()]
    return page(items, limit, lambda w: (w.enterprise_code,))


@router.put(
    "/watchlist/{code}",
    status_code=204,
    summary="follow a consented enterprise (its grade and data quality)",
)
async def follow(access: DbAccessDep, code: EnterpriseCode) -> Response:
    await access.role("watchlist.add", Role.BANK)
    await access.enterprise(code, "watchlist.add")
    await access.conn.execute(
        "INSERT INTO watchlist (bank_id, enterprise_code) VALUES (%s, %s) ON CONFLICT DO NOTHING",
        (_bank(access), code),
    )
    return Response(status_code=204)


@router.delete("/watchlist/{code}", status_code=204, summary="stop following an enterprise")
async def unfollow(access: DbAccessDep, code: EnterpriseCode) -> Response:
    await access.role("watchlist.remove", Role.BANK)
    cur = await access.conn.execute(
        "DELETE FROM watchlist WHERE bank_id = %s AND enterprise_code = %s", (_bank(access), code)
    )
    if not cur.rowcount:
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
    cur = access.conn.cursor(row_factory=dict_row)
    await cur.execute(
        "INSERT INTO webhooks (id, bank_id, url, secret) VALUES (%s, %s, %s, %s)"
        " RETURNING id, url, created_at",
        (random_id("wh_"), _bank(access), str(body.url), body.secret),
    )
    return Webhook.model_validate(await cur.fetchone())


@router.get("/webhooks", response_model=Page[Webhook], summary="this bank's webhooks")
async def webhooks(
    access: DbAccessDep, limit: LimitQuery = 100, cursor: CursorQuery = None
) -> Page[Webhook]:
    await access.role("webhook.list", Role.BANK)
    cur = access.conn.cursor(row_factory=dict_row)
    await cur.execute(
        "SELECT id, url, created_at FROM webhooks WHERE bank_id = %s AND deleted_at IS NULL"
        " AND id > %s ORDER BY id LIMIT %s",
        (_bank(access), after_key(cursor), limit + 1),
    )
    items = [Webhook.model_validate(r) for r in await cur.fetchall()]
    return page(items, limit, lambda w: (w.id,))


async def _own_webhook(access: DbAccess, webhook_id: str) -> None:
    cur = await access.conn.execute(
        "SELECT 1 FROM webhooks WHERE id = %s AND bank_id = %s AND deleted_at IS NULL",
        (webhook_id, _bank(access)),
    )
    if await cur.fetchone() is None:
        raise Problem(404, f"webhook {webhook_id} not found")


@router.delete("/webhooks/{webhook_id}", status_code=204, summary="remove a webhook")
async def delete_webhook(access: DbAccessDep, webhook_id: WebhookId) -> Response:
    await access.role("webhook.delete", Role.BANK)
    await _own_webhook(access, webhook_id)
    async with access.conn.transaction():
        await access.conn.execute(
            "UPDATE webhooks SET deleted_at = now() WHERE id = %s", (webhook_id,)
        )
        await access.conn.execute(
            "UPDATE webhook_deliveries SET status = 'cancelled', finished_at = now()"
            " WHERE webhook_id = %s AND status = 'pending'",
            (webhook_id,),
        )
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
    cur = access.conn.cursor(row_factory=dict_row)
    await cur.execute(
        "SELECT d.id, e.public_id AS event_id, e.type AS event_type,"
        " trim(e.enterprise_code) AS enterprise_code, d.status, d.created_at, d.finished_at,"
        " CASE WHEN d.status = 'pending' THEN d.next_attempt_at END AS next_attempt_at,"
        " coalesce((SELECT json_agg(json_build_object('attempt', a.attempt, 'at', a.at,"
        "   'duration_ms', a.duration_ms, 'response_status', a.response_status, 'error', a.error)"
        "   ORDER BY a.attempt) FROM webhook_attempts a WHERE a.delivery_id = d.id), '[]')"
        "   AS attempts"
        " FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id"
        " WHERE d.webhook_id = %s AND d.id < %s ORDER BY d.id DESC LIMIT %s",
        (webhook_id, before[0] if before else 2**62, limit + 1),
    )
    items = [Delivery.model_validate(r) for r in await cur.fetchall()]
    return page(items, limit, lambda d: (d.id,))
