"""The watch service beside the HTTP server: detect worsened grades and poor data quality, and
deliver webhook events. ``carbonledger api`` runs it in a thread; it can run alone too."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from datetime import UTC, datetime

import httpx
import psycopg
from psycopg_pool import AsyncConnectionPool

from accounts.api._watch import detect
from accounts.api._webhooks import DeliveryWorker
from carbonledger.config import Settings, require_database_url

log = logging.getLogger(__name__)


async def run_watch(settings: Settings, stop: asyncio.Event) -> None:
    url = require_database_url(settings)
    async with (
        AsyncConnectionPool(
            url, min_size=1, max_size=4, kwargs={"autocommit": True}, name="api-watch", open=False
        ) as pool,
        httpx.AsyncClient(
            follow_redirects=False, headers={"User-Agent": "carbonledger-webhooks"}
        ) as client,
    ):
        await pool.wait(timeout=10)
        worker = DeliveryWorker(pool, settings.api, client)
        delivering = asyncio.create_task(worker.run(stop))
        log.info("watch service started", extra={"poll_s": settings.api.watch_poll_s})
        while not stop.is_set():
            began = time.monotonic()
            try:
                async with pool.connection() as conn:
                    queued = await detect(conn, settings.api, datetime.now(UTC))
                if queued:
                    log.info("watch events queued", extra={"deliveries": queued})
            except psycopg.OperationalError as exc:
                log.warning("watch: database unavailable", extra={"error": str(exc)})
            wait = max(0.0, settings.api.watch_poll_s - (time.monotonic() - began))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)
        await delivering


class WatchThread:
    """``run_watch`` on its own event loop in a daemon thread; ``stop()`` ends it."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._thread = threading.Thread(target=self._main, name="api-watch", daemon=True)

    def _main(self) -> None:
        self._loop.run_until_complete(run_watch(self._settings, self._stop))

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 15.0) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)
