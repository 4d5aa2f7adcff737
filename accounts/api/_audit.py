"""The audit log: every data access (who, what, when, granted or denied), committed before the
data leaves, in the same statement that decides whether it is granted.

Requests hand their entry to one :class:`AuditWriter` per process and wait for it; the writer
sends everything that queued while the previous batch was in flight as one statement, so under
load a thousand accesses cost a few round trips and commits rather than a thousand (group
commit). That statement also decides what the database must decide, whether a bank's consent
is valid or an enterprise exists, and logs the outcome it decided; for an account it also
reads the version stamp the route's body cache is keyed by and, unless the stamp is the one of
the body the worker already holds, the stored account itself (its detail as JSON text and its
grades). So a request for an account costs no round trip of its own, its authorisation and its
record are one atomic fact, and no answer is ever sent whose access was not recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

import psycopg
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel

from accounts.api._consent import CONSENTED
from carbonledger.errors import DatabaseUnavailableError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Visibility:
    """How the batch's statement decides whether a key sees the enterprise of an entry."""

    rule: Literal["known", "consent", "registered"]
    """``known`` (decided by the API: its own enterprise, a role check), ``consent`` (a valid
    consent of ``bank_id`` covering ``scope``) or ``registered`` (the enterprise exists)"""
    known: bool = False
    bank_id: str | None = None
    scope: str | None = None

    @classmethod
    def decided(cls, visible: bool) -> Visibility:
        return cls("known", known=visible)

    @classmethod
    def consented(cls, bank_id: str, scope: str) -> Visibility:
        return cls("consent", bank_id=bank_id, scope=scope)

    @classmethod
    def registered(cls) -> Visibility:
        return cls("registered")


Stamp = tuple[int, datetime, datetime | None]
"""An account's (version, computed_at, latest grade time): what its body depends on."""


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """Who (key, role, bank or enterprise) did what (action, path) to which enterprise's data,
    with how to decide its outcome: granted if the enterprise is visible and ``permitted``."""

    key_id: str
    role: str
    principal: str | None
    action: str
    enterprise_code: str | None
    method: str
    path: str
    query: str
    visibility: Visibility
    permitted: bool = True
    account: tuple[str, date] | None = None
    """(period kind, start) of the account the request reads, whose stamp to return"""
    cached: Stamp | None = None
    """the stamp of the account's body the worker holds: the stored account is not read again
    while it is still the current one"""


@dataclass(frozen=True, slots=True)
class Decision:
    visible: bool
    """the key sees the enterprise (whether its role may do the action is the API's part)"""
    stamp: Stamp | None = None
    """the account's stamp, if asked and it is stored"""
    detail: str | None = None
    """the stored account's detail (JSON text), unless its stamp is the entry's ``cached``"""
    grades: str | None = None
    """its grades (a JSON array of the grade rows, numbers as text), with ``detail``"""


class AuditRecord(BaseModel):
    """One line of the audit log as the API shows it."""

    id: int
    at: datetime
    key_id: str
    role: str
    principal: str | None
    action: str
    enterprise_code: str | None
    outcome: str
    method: str
    path: str
    query: str


_WHO = ("key_id", "role", "principal", "action", "enterprise_code", "method", "path", "query")
_CONSENTED = (
    CONSENTED.replace("%(bank)s", "r.bank_id")
    .replace("%(code)s", "r.enterprise_code")
    .replace("%(scope)s", "r.scope")
)
# An account's grades as ``read_grades`` reads them (ORDER BY model), for ``GradeRecord``: numbers
# as their text (what psycopg makes a Decimal of), times in the session's time zone; and the
# latest grade time, part of the account's stamp
_GRADES = """
SELECT max(g.computed_at) AS graded_at, json_agg(json_build_object(
    'enterprise_code', rtrim(g.enterprise_code), 'period_kind', g.period_kind,
    'period_start', g.period_start, 'model', g.model, 'model_version', g.model_version,
    'industry_code', g.industry_code, 'l_value', g.l_value::text,
    'industry_l', g.industry_l::text, 'k_value', g.k_value::text, 'grade', g.grade,
    'colour', g.colour, 'level', g.level, 'basis', g.basis, 'label', g.label,
    'account_version', g.account_version, 'computed_at', g.computed_at) ORDER BY g.model) AS grades
FROM grades g"""
# LATERAL … LIMIT 1 rather than EXISTS: one index probe per entry, whatever the planner guesses
# of the batch's size (EXISTS may become a hashed scan of every enterprise)
_DECIDE_AND_LOG = f"""
WITH request AS (
    SELECT * FROM unnest(%s::int[], {", ".join(["%s::text[]"] * 4)}, %s::bpchar[],
                         {", ".join(["%s::text[]"] * 6)}, %s::bool[], %s::bool[],
                         %s::text[], %s::date[], %s::int[], %s::timestamptz[], %s::timestamptz[])
        AS r(ord, key_id, role, principal, action, enterprise_code, method, path, query,
             rule, bank_id, scope, known, permitted, period_kind, period_start,
             cached_version, cached_computed_at, cached_graded_at)
), decided AS (
    SELECT r.*, CASE r.rule WHEN 'consent' THEN c.found IS NOT NULL
                            WHEN 'registered' THEN e.found IS NOT NULL
                            ELSE r.known END AS visible
    FROM request r
    LEFT JOIN LATERAL ({_CONSENTED} AND r.rule = 'consent' LIMIT 1) c(found) ON true
    LEFT JOIN LATERAL (SELECT 1 FROM enterprises WHERE code = r.enterprise_code
                       AND r.rule = 'registered' LIMIT 1) e(found) ON true
), logged AS (
    INSERT INTO audit_log ({", ".join(_WHO)}, outcome)
    SELECT {", ".join(_WHO)}, CASE WHEN visible AND permitted THEN 'granted' ELSE 'denied' END
    FROM decided ORDER BY ord
)
SELECT d.visible, a.version, a.computed_at, g.graded_at, f.detail, f.grades
FROM decided d
LEFT JOIN LATERAL (
    SELECT a.enterprise_code, a.period_kind, a.period_start, a.version, a.computed_at, a.detail
    FROM account_periods a
    WHERE a.enterprise_code = d.enterprise_code AND a.period_kind = d.period_kind
      AND a.period_start = d.period_start AND a.status <> 'superseded'
) a ON d.visible
LEFT JOIN LATERAL ({_GRADES} WHERE g.enterprise_code = a.enterprise_code
                   AND g.period_kind = a.period_kind AND g.period_start = a.period_start
) g ON a.version IS NOT NULL
LEFT JOIN LATERAL (
    SELECT a.detail::text, g.grades::text
    WHERE (a.version, a.computed_at, g.graded_at) IS DISTINCT FROM
          (d.cached_version, d.cached_computed_at, d.cached_graded_at)
) f ON a.version IS NOT NULL
ORDER BY d.ord
"""


class AuditWriter:
    """Batches entries of concurrent requests into one statement (one commit) each, with as many
    batches in flight as the pool has connections: entries queue while every connection is
    busy and go together as the next batch. (One batch at a time made every request wait
    behind one database backend, which a busy machine gives a fraction of a core.)"""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool
        self._queue: list[tuple[AuditEntry, asyncio.Future[Decision]]] = []
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(pool.max_size)
        self._task: asyncio.Task[None] | None = None
        self._sending: set[asyncio.Task[None]] = set()
        self.batches = 0
        self.entries = 0

    def record(self, entry: AuditEntry) -> asyncio.Future[Decision]:
        """Queue the entry; the future gives the decision once the entry (with the outcome
        decided) is committed, or raises DatabaseUnavailableError if it cannot be."""
        future: asyncio.Future[Decision] = asyncio.get_running_loop().create_future()
        self._queue.append((entry, future))
        self._wake.set()
        return future

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="audit-writer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await asyncio.gather(*self._sending)
        batch, self._queue = self._queue, []
        await self._flush(batch)

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            await self._slots.acquire()  # what queues meanwhile joins this batch
            self._wake.clear()
            batch, self._queue = self._queue, []
            task = asyncio.create_task(self._send(batch))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    async def _send(self, batch: list[tuple[AuditEntry, asyncio.Future[Decision]]]) -> None:
        try:
            await self._flush(batch)
        finally:
            self._slots.release()

    async def _flush(self, batch: list[tuple[AuditEntry, asyncio.Future[Decision]]]) -> None:
        if not batch:
            return
        entries = [entry for entry, _ in batch]
        columns = [
            list(range(len(entries))),
            *([getattr(e, c) for e in entries] for c in _WHO),
            *([getattr(e.visibility, c) for e in entries] for c in ("rule", "bank_id", "scope")),
            [e.visibility.known for e in entries],
            [e.permitted for e in entries],
            [e.account[0] if e.account else None for e in entries],
            [e.account[1] if e.account else None for e in entries],
            *([e.cached[i] if e.cached else None for e in entries] for i in range(3)),
        ]
        try:
            async with self._pool.connection() as conn:
                # one statement: one round trip, one commit
                cur = await conn.execute(_DECIDE_AND_LOG, columns)
                rows = await cur.fetchall()
        except psycopg.Error as exc:
            log.error("audit log write failed", extra={"entries": len(batch), "error": str(exc)})
            for _, future in batch:
                if not future.done():
                    future.set_exception(DatabaseUnavailableError("the audit log is unavailable"))
            return
        self.batches += 1
        self.entries += len(batch)
        for (_, future), (visible, version, computed_at, graded_at, detail, grades) in zip(
            batch, rows, strict=True
        ):
            if not future.done():
                stamp = None if version is None else (version, computed_at, graded_at)
                future.set_result(Decision(visible, stamp, detail, grades))
