"""The batch writer: one transaction per batch, COPY into a staging table, dedup by identity.

A batch is many MQTT messages. Their readings are COPYed (binary) into a temporary table and
inserted into ``readings`` with ``ON CONFLICT DO NOTHING``: the identity (meter, quantity, time)
makes a redelivered or replayed reading a no-op, so acknowledging after commit gives exactly-once
storage. The same transaction records the series it extended in ``reading_changes`` and notifies
``carbonledger_readings``, so downstream consumers follow new data without rescanning.

A reading that repeats an identity with a *different* value or quality is not silently dropped:
its message is recorded in ``dead_letters`` as a conflicting duplicate, because raw readings are
never overwritten (corrections are new facts) and the first stored value stays.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import queue
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

import psycopg

from carbonledger.db import READINGS_CHANNEL
from carbonledger.db.connect import connect
from carbonledger.errors import DatabaseUnavailableError

log = logging.getLogger(__name__)

Row = tuple[datetime, str, str, float, str, datetime]  # time, meter, quantity, value, quality, recv

_STAGING = """
CREATE TEMPORARY TABLE IF NOT EXISTS incoming (
    n integer NOT NULL, time timestamptz NOT NULL, meter_id text NOT NULL,
    quantity text NOT NULL, value double precision NOT NULL, quality text NOT NULL,
    received_at timestamptz NOT NULL
) ON COMMIT DELETE ROWS
"""
_COPY = (
    "COPY incoming (n, time, meter_id, quantity, value, quality, received_at)"
    " FROM STDIN (FORMAT BINARY)"
)
_TYPES = ["int4", "timestamptz", "text", "text", "float8", "text", "timestamptz"]
# Store the new readings, log which series they touched (reading_changes, migration 0004) and wake
# the aggregator (NOTIFY is delivered at commit), all in one statement of the batch's transaction.
_INSERT = f"""
WITH stored AS (
    INSERT INTO readings (time, meter_id, quantity, value, quality, received_at)
    SELECT time, meter_id, quantity, value, quality, received_at FROM incoming ORDER BY n
    ON CONFLICT DO NOTHING
    RETURNING meter_id, quantity, time
), logged AS (
    INSERT INTO reading_changes
        (enterprise_code, meter_id, quantity, first_time, last_time, readings)
    SELECT m.enterprise_code, s.meter_id, s.quantity, min(s.time), max(s.time), count(*)
    FROM stored s JOIN meters m ON m.id = s.meter_id
    GROUP BY m.enterprise_code, s.meter_id, s.quantity
    RETURNING readings
)
SELECT total, CASE WHEN total > 0 THEN pg_notify('{READINGS_CHANNEL}', '') END
FROM (SELECT coalesce(sum(readings), 0) AS total FROM logged) AS t
"""

_CONFLICTS = """
SELECT i.n, r.value, r.quality FROM incoming i
JOIN readings r ON r.meter_id = i.meter_id AND r.quantity = i.quantity AND r.time = i.time
WHERE r.value <> i.value OR r.quality <> i.quality
"""
_DEAD_LETTER = """
INSERT INTO dead_letters
    (topic, payload, payload_sha256, reason, rejected_readings, accepted_readings)
VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (topic, payload_sha256) DO NOTHING
"""


@dataclass
class Message:
    """One MQTT message, decoded and authorised, ready to be written."""

    topic: str
    payload: bytes
    rows: list[Row] = field(default_factory=list)
    row_indexes: list[int] = field(default_factory=list)  # each row's index in the payload
    problems: list[str] = field(default_factory=list)  # rejected readings, with reasons
    fatal: str | None = None  # why the whole message is unusable

    def dead_letter_reason(self, conflicts: Sequence[str] = ()) -> str | None:
        if self.fatal:
            return self.fatal
        items = [*self.problems, *conflicts]
        if not items:
            return None
        head = "; ".join(items[:5])
        return head + (f" (+{len(items) - 5} more)" if len(items) > 5 else "")


@dataclass(frozen=True)
class WriteResult:
    stored: int = 0
    duplicates: int = 0
    dead_lettered: int = 0


class BatchWriter:
    """Writes batches of messages through one connection that it (re)opens as needed."""

    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo
        self._conn: psycopg.Connection | None = None

    @property
    def connection(self) -> psycopg.Connection:
        """The open connection, reconnecting if it was lost (raises DatabaseUnavailableError)."""
        if self._conn is None or self._conn.closed:
            self._conn = connect(self._conninfo, application_name="carbonledger-ingest")
            self._conn.execute(_STAGING)
            self._conn.commit()
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def write(self, messages: Sequence[Message]) -> WriteResult:
        """Store the messages' readings and dead letters in one transaction.

        If the database refuses the batch for its content (not for being unreachable), the
        messages are written one by one and the one it refuses goes to dead letters with the
        database's reason, so one poison message cannot block the stream.
        """
        try:
            return self._write_once(messages)
        except psycopg.OperationalError as exc:
            self._discard_connection()
            raise DatabaseUnavailableError(f"batch write failed: {exc}") from exc
        except psycopg.Error as exc:
            self._rollback()
            if len(messages) == 1:
                return self._poison(messages[0], exc)
            log.warning("batch refused, retrying message by message", extra={"error": str(exc)})
            results = [self.write([m]) for m in messages]
            return WriteResult(
                stored=sum(r.stored for r in results),
                duplicates=sum(r.duplicates for r in results),
                dead_lettered=sum(r.dead_lettered for r in results),
            )

    def _write_once(self, messages: Sequence[Message]) -> WriteResult:
        conn = self.connection
        origin: list[tuple[int, int]] = []  # staging row n -> (message, position in its rows)
        with conn.cursor() as cur:
            with cur.copy(_COPY) as copy:
                copy.set_types(_TYPES)
                for m_index, message in enumerate(messages):
                    for position, row in enumerate(message.rows):
                        copy.write_row((len(origin), *row))
                        origin.append((m_index, position))
            totals = cur.execute(_INSERT).fetchone()
            stored = int(totals[0]) if totals else 0
            conflicts: dict[int, list[str]] = {}
            if stored < len(origin):
                for n, old_value, old_quality in cur.execute(_CONFLICTS):
                    m_index, position = origin[n]
                    row = messages[m_index].rows[position]
                    r_index = messages[m_index].row_indexes[position]
                    conflicts.setdefault(m_index, []).append(
                        f"readings[{r_index}]: conflicts with the stored reading of {row[1]}"
                        f" {row[2]} at {row[0].isoformat()}: stored {old_value} ({old_quality}),"
                        f" received {row[3]} ({row[4]}); the stored value is kept"
                    )
            dead = self._dead_letters(cur, messages, conflicts)
        conn.commit()
        return WriteResult(stored=stored, duplicates=len(origin) - stored, dead_lettered=dead)

    def _dead_letters(
        self, cur: psycopg.Cursor, messages: Sequence[Message], conflicts: dict[int, list[str]]
    ) -> int:
        params = []
        for m_index, message in enumerate(messages):
            reason = message.dead_letter_reason(conflicts.get(m_index, ()))
            if reason is None:
                continue
            refused = len(message.problems) + len(conflicts.get(m_index, ()))
            rejected = None if message.fatal else refused
            accepted = 0 if message.fatal else len(message.rows)
            digest = hashlib.sha256(message.payload).digest()
            params.append((message.topic, message.payload, digest, reason, rejected, accepted))
        if params:
            cur.executemany(_DEAD_LETTER, params)
        return len(params)

    def _poison(self, message: Message, exc: psycopg.Error) -> WriteResult:
        reason = f"database refused the message: {exc.diag.message_primary or exc}"
        poisoned = Message(message.topic, message.payload, fatal=reason)
        log.error("poison message dead-lettered", extra={"topic": message.topic, "reason": reason})
        return self._write_once([poisoned])

    def _rollback(self) -> None:
        if self._conn is not None and not self._conn.closed:
            try:
                self._conn.rollback()
            except psycopg.OperationalError:
                self._discard_connection()

    def _discard_connection(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):  # already broken: nothing to release
                self._conn.close()
            self._conn = None


_T = TypeVar("_T")


def hand_over(handoff: queue.Queue[_T], item: _T, writer: threading.Thread) -> bool:
    """Put ``item`` on the bounded ``handoff`` while ``writer`` lives; False if it stopped first."""
    while writer.is_alive():
        try:
            handoff.put(item, timeout=0.5)
            return True
        except queue.Full:
            continue
    return False
