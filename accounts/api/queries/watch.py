"""A bank's watchlist and webhooks, and the delivery log of its webhooks' events."""

from __future__ import annotations

import psycopg
from psycopg.rows import dict_row

from accounts.api.queries import Row, fetch_all


async def watched(
    conn: psycopg.AsyncConnection, bank_id: str, *, after: str, limit: int
) -> list[Row]:
    """The enterprises a bank follows (code, name, when added), by code after ``after``."""
    return await fetch_all(
        conn,
        "SELECT trim(w.enterprise_code) AS enterprise_code, e.name, w.added_at"
        " FROM watchlist w JOIN enterprises e ON e.code = w.enterprise_code"
        " WHERE w.bank_id = %s AND w.enterprise_code > %s ORDER BY w.enterprise_code LIMIT %s",
        (bank_id, after, limit),
    )


async def follow(conn: psycopg.AsyncConnection, bank_id: str, code: str) -> None:
    """Add an enterprise to a bank's watchlist; following it again changes nothing."""
    await conn.execute(
        "INSERT INTO watchlist (bank_id, enterprise_code) VALUES (%s, %s) ON CONFLICT DO NOTHING",
        (bank_id, code),
    )


async def unfollow(conn: psycopg.AsyncConnection, bank_id: str, code: str) -> bool:
    """Take an enterprise off a bank's watchlist; False if it was not on it."""
    cur = await conn.execute(
        "DELETE FROM watchlist WHERE bank_id = %s AND enterprise_code = %s", (bank_id, code)
    )
    return bool(cur.rowcount)


async def insert_webhook(
    conn: psycopg.AsyncConnection, webhook_id: str, bank_id: str, url: str, secret: str
) -> Row | None:
    """Store a bank's new webhook; its id, url and creation time."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "INSERT INTO webhooks (id, bank_id, url, secret) VALUES (%s, %s, %s, %s)"
        " RETURNING id, url, created_at",
        (webhook_id, bank_id, url, secret),
    )
    return await cur.fetchone()


async def webhooks(
    conn: psycopg.AsyncConnection, bank_id: str, *, after: str, limit: int
) -> list[Row]:
    """A bank's live webhooks (id, url, creation time), by id after ``after``."""
    return await fetch_all(
        conn,
        "SELECT id, url, created_at FROM webhooks WHERE bank_id = %s AND deleted_at IS NULL"
        " AND id > %s ORDER BY id LIMIT %s",
        (bank_id, after, limit),
    )


async def owns_webhook(conn: psycopg.AsyncConnection, bank_id: str, webhook_id: str) -> bool:
    """Whether the webhook is the bank's and not deleted."""
    cur = await conn.execute(
        "SELECT 1 FROM webhooks WHERE id = %s AND bank_id = %s AND deleted_at IS NULL",
        (webhook_id, bank_id),
    )
    return await cur.fetchone() is not None


async def delete_webhook(conn: psycopg.AsyncConnection, webhook_id: str) -> None:
    """Mark a webhook deleted and cancel its pending deliveries, in one transaction."""
    async with conn.transaction():
        await conn.execute("UPDATE webhooks SET deleted_at = now() WHERE id = %s", (webhook_id,))
        await conn.execute(
            "UPDATE webhook_deliveries SET status = 'cancelled', finished_at = now()"
            " WHERE webhook_id = %s AND status = 'pending'",
            (webhook_id,),
        )


async def deliveries(
    conn: psycopg.AsyncConnection, webhook_id: str, *, before: int, limit: int
) -> list[Row]:
    """A webhook's deliveries newest first, with ids below ``before``, each with its event and
    every attempt (a JSON array, oldest attempt first)."""
    return await fetch_all(
        conn,
        "SELECT d.id, e.public_id AS event_id, e.type AS event_type,"
        " trim(e.enterprise_code) AS enterprise_code, d.status, d.created_at, d.finished_at,"
        " CASE WHEN d.status = 'pending' THEN d.next_attempt_at END AS next_attempt_at,"
        " coalesce((SELECT json_agg(json_build_object('attempt', a.attempt, 'at', a.at,"
        "   'duration_ms', a.duration_ms, 'response_status', a.response_status, 'error', a.error)"
        "   ORDER BY a.attempt) FROM webhook_attempts a WHERE a.delivery_id = d.id), '[]')"
        "   AS attempts"
        " FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id"
        " WHERE d.webhook_id = %s AND d.id < %s ORDER BY d.id DESC LIMIT %s",
        (webhook_id, before, limit),
    )
