"""Webhooks: signed events, queued per webhook and delivered with retries and a delivery log.

Signature (docs/api.md): header ``Carbonledger-Signature: t=<unix seconds>,v1=<hex>`` where
``hex = HMAC-SHA256(secret, "<t>." + body)``. A receiver recomputes it over the raw body and
rejects a timestamp more than a few minutes old (replay). Deliveries are claimed with
``FOR UPDATE SKIP LOCKED`` (any number of workers), retried with exponential backoff
(``api.webhook_backoff_s`` doubling) up to ``api.webhook_attempts`` tries, and every attempt is
a row of ``webhook_attempts``. An event is only delivered while the bank's consent is valid.
A destination that is not public (``_destination.py``) fails at once, without retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import orjson
import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from accounts.api._consent import CONSENTED, Scope
from accounts.api._destination import (
    Destination,
    IPAddress,
    RefusedDestinationError,
    UnresolvedDestinationError,
    resolve,
)
from accounts.api._keys import random_id
from accounts.api._problems import Problem
from carbonledger.config import ApiSettings

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "Carbonledger-Signature"
TOLERANCE_S = 300
_PLACEHOLDERS = {"secret", "changeme", "change-me", "password", "webhook-secret", "test", "xxx"}


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(
    secret: str,
    header: str,
    body: bytes,
    *,
    tolerance_s: int = TOLERANCE_S,
    now: float | None = None,
) -> bool:
    """What a receiver does: the signature matches and its timestamp is recent."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs((now or time.time()) - timestamp) > tolerance_s:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, fields.get("v1", ""))


def secret_problem(secret: str) -> str | None:
    """Why a webhook secret is refused (too short, a placeholder, one repeated character)."""
    if len(secret) < 16:
        return "must be at least 16 characters"
    lowered = secret.lower()
    if len(set(secret)) < 4 or any(lowered.startswith(p) for p in _PLACEHOLDERS):
        return "looks like a placeholder; use a random secret"
    return None


async def check_new_destination(url: str, settings: ApiSettings) -> None:
    """Refuse a new webhook whose URL is not public with a 422 ``webhook-destination`` problem.

    A name that does not resolve yet is accepted: each delivery resolves and checks it again.
    """
    try:
        await resolve(url, allow_private=settings.webhook_allow_private)
    except RefusedDestinationError as exc:
        raise Problem(422, str(exc), slug="webhook-destination") from None
    except UnresolvedDestinationError:
        return


async def create_event(
    conn: psycopg.AsyncConnection,
    kind: str,
    enterprise_code: str | None,
    data: dict[str, Any],
    *,
    webhook_id: str | None = None,
) -> int:
    """Queue an event for every live webhook of the banks that watch the enterprise with a valid
    consent (or for one webhook: pings). Returns how many deliveries were queued."""
    public_id = random_id("evt_", 16)
    async with conn.transaction():
        cur = await conn.execute(
            "INSERT INTO webhook_events (public_id, type, enterprise_code, payload)"
            " VALUES (%s, %s, %s, '{}') RETURNING id, created_at",
            (public_id, kind, enterprise_code),
        )
        row = await cur.fetchone()
        assert row is not None  # noqa: S101 - RETURNING gives the row
        event_id, created_at = row
        body = {
            "id": public_id,
            "type": kind,
            "created_at": created_at.isoformat(),
            "enterprise_code": enterprise_code,
            "data": data,
        }
        await conn.execute(
            "UPDATE webhook_events SET payload = %s WHERE id = %s",
            (orjson.dumps(body).decode(), event_id),
        )
        if webhook_id is not None:
            cur = await conn.execute(
                "INSERT INTO webhook_deliveries (event_id, webhook_id, status)"
                " VALUES (%s, %s, 'pending')",
                (event_id, webhook_id),
            )
        else:
            cur = await conn.execute(
                "INSERT INTO webhook_deliveries (event_id, webhook_id, status)"
                " SELECT %(event)s, h.id, 'pending' FROM watchlist w"
                " JOIN webhooks h ON h.bank_id = w.bank_id AND h.deleted_at IS NULL"
                " WHERE w.enterprise_code = %(code)s"
                f" AND EXISTS ({CONSENTED.replace('%(bank)s', 'w.bank_id')})",
                {"event": event_id, "code": enterprise_code, "scope": Scope.ACCOUNT.value},
            )
        return cur.rowcount


@dataclass(frozen=True)
class _Due:
    id: int
    attempts: int
    url: str
    secret: str
    payload: dict[str, Any]
    kind: str
    public_id: str
    consented: bool


_CLAIM = f"""
WITH due AS (
    SELECT id FROM webhook_deliveries
    WHERE status = 'pending' AND next_attempt_at <= now()
    ORDER BY next_attempt_at, id LIMIT %(limit)s FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE webhook_deliveries d SET attempts = d.attempts + 1, next_attempt_at = now() + %(lease)s
    FROM due WHERE d.id = due.id
    RETURNING d.id, d.attempts, d.event_id, d.webhook_id
)
SELECT c.id, c.attempts, h.url, h.secret, e.payload, e.type AS kind, e.public_id,
       (e.enterprise_code IS NULL OR EXISTS ({
    CONSENTED.replace("%(bank)s", "h.bank_id").replace("%(code)s", "e.enterprise_code")
}))
           AS consented
FROM claimed c JOIN webhooks h ON h.id = c.webhook_id JOIN webhook_events e ON e.id = c.event_id
"""


class DeliveryWorker:
    """Delivers due webhook events; ``run`` loops until stopped, ``deliver_due`` is one pass."""

    def __init__(
        self, pool: AsyncConnectionPool, settings: ApiSettings, client: httpx.AsyncClient
    ) -> None:
        self._pool = pool
        self._settings = settings
        self._client = client
        self.delivered = 0
        self.failed_attempts = 0

    async def deliver_due(self, limit: int = 50) -> int:
        """Claim up to ``limit`` due deliveries, send them concurrently; returns how many."""
        lease = timedelta(seconds=self._settings.webhook_timeout_s * 2 + 5)
        async with self._pool.connection() as conn, conn.transaction():
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                _CLAIM, {"limit": limit, "lease": lease, "scope": Scope.ACCOUNT.value}
            )
            due = [_Due(**row) for row in await cur.fetchall()]
        await asyncio.gather(*(self._attempt(d) for d in due))
        return len(due)

    async def run(self, stop: asyncio.Event, poll_s: float = 1.0) -> None:
        while not stop.is_set():
            try:
                sent = await self.deliver_due()
            except psycopg.OperationalError as exc:
                log.warning("webhook delivery: database unavailable", extra={"error": str(exc)})
                sent = 0
            if not sent:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), poll_s)

    async def _attempt(self, due: _Due) -> None:
        if not due.consented:
            await self._finish(due, "cancelled", None, "the bank's consent is no longer valid", 0)
            return
        began = time.monotonic()
        status: int | None = None
        try:
            destination = await resolve(due.url, allow_private=self._settings.webhook_allow_private)
            status = await self._post(due, destination)
            error = None if 200 <= status < 300 else f"HTTP {status}"
        except RefusedDestinationError as exc:
            self.failed_attempts += 1
            await self._finish(due, "failed", None, str(exc), 0)
            return
        except UnresolvedDestinationError as exc:
            error = str(exc)
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        took_ms = int((time.monotonic() - began) * 1000)
        if error is None:
            self.delivered += 1
            await self._finish(due, "delivered", status, None, took_ms)
        elif due.attempts >= self._settings.webhook_attempts:
            self.failed_attempts += 1
            await self._finish(due, "failed", status, error, took_ms)
        else:
            self.failed_attempts += 1
            await self._retry(due, status, error, took_ms)

    async def _post(self, due: _Due, destination: Destination) -> int:
        """POST the event to the checked addresses in turn (the next one only if one refuses)."""
        body = orjson.dumps(due.payload)
        headers = destination.headers | {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(due.secret, int(time.time()), body),
            "Carbonledger-Event-Id": due.public_id,
            "Carbonledger-Event-Type": due.kind,
            "Carbonledger-Delivery-Attempt": str(due.attempts),
        }
        *others, last = destination.addresses
        for address in others:
            with contextlib.suppress(httpx.ConnectError):
                return await self._send(destination, address, body, headers)
        return await self._send(destination, last, body, headers)

    async def _send(
        self, destination: Destination, address: IPAddress, body: bytes, headers: dict[str, str]
    ) -> int:
        response = await self._client.post(
            destination.request_url(address),
            content=body,
            headers=headers,
            extensions=destination.extensions,
            timeout=self._settings.webhook_timeout_s,
        )
        return response.status_code

    async def _log(self, conn: psycopg.AsyncConnection, due: _Due, status: int | None,
                   error: str | None, took_ms: int) -> None:  # fmt: skip
        await conn.execute(
            "INSERT INTO webhook_attempts (delivery_id, attempt, duration_ms, response_status,"
            " error) VALUES (%s, %s, %s, %s, %s)",
            (due.id, due.attempts, took_ms, status, error),
        )

    async def _finish(
        self, due: _Due, outcome: str, status: int | None, error: str | None, took_ms: int
    ) -> None:
        async with self._pool.connection() as conn, conn.transaction():
            if outcome != "cancelled":
                await self._log(conn, due, status, error, took_ms)
            await conn.execute(
                "UPDATE webhook_deliveries SET status = %s, last_status = %s, last_error = %s,"
                " finished_at = now() WHERE id = %s",
                (outcome, status, error, due.id),
            )
        log.info(
            "webhook delivery finished",
            extra={"delivery": due.id, "outcome": outcome, "attempts": due.attempts},
        )

    async def _retry(self, due: _Due, status: int | None, error: str, took_ms: int) -> None:
        delay = timedelta(seconds=self._settings.webhook_backoff_s * 2 ** (due.attempts - 1))
        async with self._pool.connection() as conn, conn.transaction():
            await self._log(conn, due, status, error, took_ms)
            await conn.execute(
                "UPDATE webhook_deliveries SET last_status = %s, last_error = %s,"
                " next_attempt_at = now() + %s WHERE id = %s",
                (status, error, delay, due.id),
            )
