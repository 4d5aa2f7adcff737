"""The audit log: every data access (who, what, when, granted or denied), committed before the
data leaves.

Requests hand their entry to one :class:`AuditWriter` per process and wait for it; the writer
commits everything that queued while the previous batch was being written in one statement, so under
load a thousand accesses cost a few commits rather than a thousand (group commit), and no answer
is ever sent whose access was not recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime

import psycopg
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel

from carbonledger.errors import DatabaseUnavailableError

log = logging.getLogger(__name__)

_COLUMNS = ("key_id", "role", "principal", "action", "enterprise_code", "outcome", "method",
            "path", "query")  # fmt: skip


_INSERT = (
    f"INSERT INTO audit_log ({', '.join(_COLUMNS)})"
    f" SELECT * FROM unnest({', '.join(['%s::text[]'] * len(_COLUMNS))})"
)


class AuditEntry(BaseModel):
    """Who (key, role, bank or enterprise) did what (action, path) to which enterprise's data."""

    key_id: str
    role: str
    principal: str | None
    action: str
    enterprise_code: str | None
    outcome: str
    method: str
    path: str
    query: str


class AuditRecord(AuditEntry):
    """One line of the audit log as the API shows it: the entry, its number and time."""

    id: int
    at: datetime


class AuditWriter:
    """Batches entries of concurrent requests into one INSERT (one commit) each."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool
        self._queue: list[tuple[AuditEntry, asyncio.Future[None]]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        self.entries = 0

    async def record(self, entry: AuditEntry) -> None:
        """Return once the entry is committed; DatabaseUnavailableError if it cannot be."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((entry, future))
        self._wake.set()
        await future

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="audit-writer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._queue:
            await self._flush()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self._flush()

    async def _flush(self) -> None:
        batch, self._queue = self._queue, []
        if not batch:
            return
        columns = [[getattr(entry, c) for entry, _ in batch] for c in _COLUMNS]
        try:
            async with self._pool.connection() as conn:
                await conn.execute(_INSERT, columns)  # one statement: one round trip, one commit
        except psycopg.Error as exc:
            log.error("audit log write failed", extra={"entries": len(batch), "error": str(exc)})
            for _, future in batch:
                if not future.done():
                    future.set_exception(DatabaseUnavailableError("the audit log is unavailable"))
            return
        self.batches += 1
        self.entries += len(batch)
        for _, future in batch:
            if not future.done():
                future.set_result(None)
