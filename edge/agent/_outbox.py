"""The durable outbox: every reading a driver emits, in SQLite, until the broker acknowledged it.

Schema (one file, WAL mode)::

    readings(id INTEGER PRIMARY KEY AUTOINCREMENT, meter, quantity, time, value, quality)
    batches(seq INTEGER PRIMARY KEY, first_id, last_id, sent_at)   -- numbered, not yet acked
    meta(key PRIMARY KEY, value)                                   -- next_seq, assigned_upto

Why these choices:

* ``synchronous=FULL``: in WAL mode that fsyncs the WAL at every commit, so when :meth:`write`
  returns the readings survive a power cut, not only a crash of the process (``NORMAL`` would
  survive SIGKILL but may roll back the last commits on power loss, and the driver has already
  moved on: those readings would be gone). The price is one fsync per emit (a driver emits once
  per poll cycle) and per acknowledged batch; ``benchmarks/edge_outbox.py`` measures it.
* ``AUTOINCREMENT`` ids never go back, even when the table was emptied, so "oldest first" is
  ``ORDER BY id`` and a batch is an id range: ``(assigned_upto, last_id]``.
* A batch's ``seq`` and ``sent_at`` are stored when it is numbered, in the same transaction that
  advances ``next_seq``. A batch re-sent after a reconnect or a restart therefore carries the same
  seq (and the same bytes, unless the quota dropped some of its rows), and seq keeps growing across
  restarts. The first seq of a new outbox is the Unix time in ms, so a gateway whose outbox was
  wiped still numbers above its old batches.
* Rows are deleted only by :meth:`ack` (after the PUBACK) or by the ``drop-oldest`` quota policy.

The class is synchronous and not thread-safe: the agent confines it to one worker thread
(:class:`edge.agent._agent.OutboxWorker`) so fsyncs never block the event loop.
"""

from __future__ import annotations

import functools
import logging
import math
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from carbonledger.errors import OutboxError, OutboxFullError
from carbonledger.wire import Quality, Reading

from ._config import FullPolicy

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS readings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    meter TEXT NOT NULL,
    quantity TEXT NOT NULL,
    time TEXT NOT NULL,
    value REAL NOT NULL,
    quality TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS batches (
    seq INTEGER PRIMARY KEY,
    first_id INTEGER NOT NULL,
    last_id INTEGER NOT NULL,
    sent_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""
_ROW_BYTES_GUESS = 96  # a reading's row before any is stored (meter id, ISO time, value...)


@dataclass(frozen=True, slots=True)
class StoredBatch:
    """A numbered batch: its seq, when it was first sent, and its readings (oldest first)."""

    seq: int
    sent_at: datetime
    last_id: int
    readings: list[Reading]


@dataclass(frozen=True, slots=True)
class WriteResult:
    written: int
    dropped: int  # old readings deleted by the drop-oldest policy to make room


class Outbox:
    """SQLite store-and-forward queue for readings (see the module docstring)."""

    def __init__(
        self,
        path: Path,
        *,
        quota_bytes: int = 512 << 20,
        policy: FullPolicy = FullPolicy.DROP_OLDEST,
    ) -> None:
        self.path = path
        self.quota_bytes = quota_bytes
        self.policy = policy
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._db.execute("PRAGMA journal_size_limit=67108864")  # WAL shrinks to 64 MiB
            self._db.executescript(_SCHEMA)
            self._page_size = int(self._scalar("PRAGMA page_size"))
            self.depth = int(self._scalar("SELECT count(*) FROM readings"))
            self._init_meta()
        except (sqlite3.Error, OSError) as exc:
            raise OutboxError(f"cannot open the outbox {path}: {exc}") from exc

    def _scalar(self, query: str, *params: object) -> int:
        row = self._db.execute(query, params).fetchone()
        return 0 if row is None or row[0] is None else int(row[0])

    def _init_meta(self) -> None:
        self._db.execute(
            "INSERT OR IGNORE INTO meta VALUES ('next_seq', ?), ('assigned_upto', 0)",
            (int(time.time() * 1000),),
        )
        self.next_seq = self._scalar("SELECT value FROM meta WHERE key = 'next_seq'")
        self._assigned_upto = self._scalar("SELECT value FROM meta WHERE key = 'assigned_upto'")

    def close(self) -> None:
        """Checkpoint the WAL into the main file and close (idempotent)."""
        try:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._db.close()
        except sqlite3.ProgrammingError:  # already closed
            pass
        except sqlite3.Error as exc:
            raise OutboxError(f"cannot close the outbox {self.path}: {exc}") from exc

    # -- writing ----------------------------------------------------------------------------------

    def used_bytes(self) -> int:
        """Bytes of the database file in use (pages minus free pages); the quota counts these."""
        pages = self._scalar("PRAGMA page_count") - self._scalar("PRAGMA freelist_count")
        return pages * self._page_size

    def write(self, readings: Sequence[Reading]) -> WriteResult:
        """Store ``readings`` in one transaction; durable (fsynced) when this returns.

        At the quota, ``drop-oldest`` deletes the oldest rows first (in the same transaction) and
        ``refuse-new`` raises :class:`OutboxFullError` having written nothing.
        """
        if not readings:
            return WriteResult(0, 0)
        rows = [
            (r.meter, r.quantity, r.time.isoformat(), r.value, str(r.quality)) for r in readings
        ]
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                dropped = self._make_room(len(rows))
                self._db.executemany(
                    "INSERT INTO readings (meter, quantity, time, value, quality)"
                    " VALUES (?, ?, ?, ?, ?)",
                    rows,
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise OutboxError(f"cannot write to the outbox {self.path}: {exc}") from exc
        self.depth += len(rows) - dropped
        return WriteResult(len(rows), dropped)

    def _row_bytes(self) -> float:
        return self.used_bytes() / self.depth if self.depth > 100 else _ROW_BYTES_GUESS

    def _make_room(self, incoming: int) -> int:
        """Apply the quota policy for ``incoming`` new rows; returns how many old rows went."""
        used, per_row = self.used_bytes(), self._row_bytes()
        excess = used + incoming * per_row - self.quota_bytes
        if excess <= 0:
            return 0
        if self.policy is FullPolicy.REFUSE_NEW:
            raise OutboxFullError(incoming, used, self.quota_bytes)
        victims = min(self.depth, max(incoming, math.ceil(excess / per_row)))
        cursor = self._db.execute(
            "DELETE FROM readings WHERE id IN (SELECT id FROM readings ORDER BY id LIMIT ?)",
            (victims,),
        )
        self._db.execute(
            "DELETE FROM batches WHERE last_id < (SELECT coalesce(min(id), 1 << 62) FROM readings)"
        )
        return cursor.rowcount

    # -- batches ----------------------------------------------------------------------------------

    def unacked(self) -> list[int]:
        """Seqs of numbered batches still awaiting their PUBACK, oldest first."""
        return [row[0] for row in self._db.execute("SELECT seq FROM batches ORDER BY seq")]

    def unassigned(self) -> int:
        """How many readings wait to be put in a batch."""
        return self._scalar("SELECT count(*) FROM readings WHERE id > ?", self._assigned_upto)

    def load(self, seq: int) -> StoredBatch | None:
        """A numbered batch with its remaining readings; None (and forgotten) if none remain."""
        row = self._db.execute(
            "SELECT first_id, last_id, sent_at FROM batches WHERE seq = ?", (seq,)
        ).fetchone()
        if row is None:
            return None
        first, last, sent_at = row
        readings = self._readings("WHERE id BETWEEN ? AND ? ORDER BY id", first, last)
        if not readings:
            self._db.execute("DELETE FROM batches WHERE seq = ?", (seq,))
            return None
        return StoredBatch(seq, _time(sent_at), last, readings)

    def next_batch(self, max_readings: int, sent_at: datetime) -> StoredBatch | None:
        """Number the oldest unbatched readings as a new batch (one transaction), or None."""
        try:
            rows = self._db.execute(
                "SELECT id FROM readings WHERE id > ? ORDER BY id LIMIT ?",
                (self._assigned_upto, max_readings),
            ).fetchall()
            if not rows:
                return None
            first, last, seq = rows[0][0], rows[-1][0], self.next_seq
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "INSERT INTO batches VALUES (?, ?, ?, ?)", (seq, first, last, sent_at.isoformat())
            )
            self._db.execute(
                "UPDATE meta SET value = CASE key WHEN 'next_seq' THEN ? ELSE ? END"
                " WHERE key IN ('next_seq', 'assigned_upto')",
                (seq + 1, last),
            )
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise OutboxError(f"cannot number a batch in {self.path}: {exc}") from exc
        self.next_seq, self._assigned_upto = seq + 1, last
        readings = self._readings("WHERE id BETWEEN ? AND ? ORDER BY id", first, last)
        return StoredBatch(seq, sent_at, last, readings)

    def ack(self, seq: int) -> int:
        """The broker acknowledged batch ``seq``: delete it and its readings; returns how many."""
        try:
            row = self._db.execute(
                "SELECT first_id, last_id FROM batches WHERE seq = ?", (seq,)
            ).fetchone()
            if row is None:
                return 0
            self._db.execute("BEGIN IMMEDIATE")
            cursor = self._db.execute("DELETE FROM readings WHERE id BETWEEN ? AND ?", row)
            self._db.execute("DELETE FROM batches WHERE seq = ?", (seq,))
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise OutboxError(f"cannot delete batch {seq} from {self.path}: {exc}") from exc
        self.depth -= cursor.rowcount
        return cursor.rowcount

    def oldest_time(self) -> datetime | None:
        """The measurement time of the oldest reading still waiting (for the heartbeat)."""
        row = self._db.execute("SELECT time FROM readings ORDER BY id LIMIT 1").fetchone()
        return None if row is None else _time(row[0])

    def _readings(self, where: str, *params: object) -> list[Reading]:
        query = "SELECT meter, quantity, time, value, quality FROM readings " + where
        return [
            Reading(meter, quantity, _time(when), value, _QUALITIES[quality])
            for meter, quantity, when, value, quality in self._db.execute(query, params)
        ]


_QUALITIES = {q.value: q for q in Quality}


@functools.lru_cache(maxsize=4096)  # a batch repeats a few timestamps many times
def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)
