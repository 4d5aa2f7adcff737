"""One ingest worker: take messages, decode, authorise, batch, write, commit, then acknowledge.

Three threads, each with one job: paho's network thread only enqueues deliveries; the taking
thread decodes them into batches; the writer thread authorises, writes, commits and only then
acknowledges. Nothing is acknowledged before the transaction that holds its readings has
committed, so a crash at any point loses nothing: uncommitted work is redelivered by the broker,
and committed-but-unacknowledged work is redelivered and recognised as duplicates.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg

from carbonledger import wire
from carbonledger.config import Settings
from carbonledger.errors import ConfigError, DatabaseUnavailableError, WireFormatError
from carbonledger.mqtt import MqttEndpoint
from ingest.consumer import Delivery, MqttConsumer
from ingest.directory import Directory
from ingest.metrics import IngestMetrics
from ingest.writer import BatchWriter, Message, WriteResult, hand_over

log = logging.getLogger(__name__)

_IDLE_FLUSH_S = 0.01  # flush early when the broker has nothing more for us right now
_RETRY_MAX_S = 30.0


@dataclass
class _Pending:
    deliveries: list[Delivery] = field(default_factory=list)
    batches: list[wire.Batch | WireFormatError] = field(default_factory=list)
    readings: int = 0
    started: float = 0.0

    def add(self, delivery: Delivery) -> None:
        try:
            batch = wire.decode(delivery.payload)
        except WireFormatError as exc:
            self.batches.append(exc)
        else:
            self.readings += len(batch.readings)
            self.batches.append(batch)
        if not self.deliveries:
            self.started = time.monotonic()
        self.deliveries.append(delivery)

    def age(self) -> float:
        """Seconds since this batch took its first message.

        Measured from when the message left the queue, not from when paho received it: under
        backlog every queued message is already old, and timing from receipt would flush
        one-message batches exactly when batching matters most.
        """
        return time.monotonic() - self.started if self.deliveries else 0.0


def subscription_filter(settings: Settings) -> str:
    topic = wire.readings_subscription(settings.topic_root)
    group = settings.ingest.shared_group
    return f"$share/{group}/{topic}" if group else topic


class IngestService:
    def __init__(self, settings: Settings, metrics: IngestMetrics | None = None) -> None:
        if not settings.database_url:
            raise ConfigError("DATABASE_URL is not set")
        self.settings = settings
        self.metrics = metrics or IngestMetrics()
        self._writer = BatchWriter(settings.database_url)
        self._directory = Directory()
        self._consumer = MqttConsumer(
            MqttEndpoint.from_url(settings.mqtt_url),
            client_id=settings.ingest.client_id,
            topic_filter=subscription_filter(settings),
            receive_maximum=settings.ingest.receive_maximum,
        )
        self.ready = self._consumer.subscribed
        self._writer_error: BaseException | None = None

    def run(self, stop: threading.Event) -> None:
        """Work until ``stop`` is set, then commit and acknowledge what was taken, and return.

        Two threads: this one takes and decodes messages into batches; a writer thread writes,
        commits and acknowledges them. One batch can wait between the two, so decoding the next
        batch overlaps the database's work on the current one, and a slow database still stops
        the taking (and then the broker's sending) after one batch.
        """
        self._directory.load(self._wait_for_database(stop))
        self._consumer.start()
        handoff: queue.Queue[_Pending | None] = queue.Queue(maxsize=1)
        writer = threading.Thread(
            target=self._write_loop, args=(handoff, stop), name="ingest-writer", daemon=True
        )
        writer.start()
        try:
            self._take_loop(handoff, stop, writer)
        finally:
            if writer.is_alive():
                handoff.put(None)
                writer.join()
            self._consumer.stop()
            self._writer.close()
        if self._writer_error is not None:
            raise self._writer_error

    def _take_loop(
        self, handoff: queue.Queue[_Pending | None], stop: threading.Event, writer: threading.Thread
    ) -> None:
        pending = _Pending()
        batch_size = self.settings.ingest.batch_size
        max_delay = self.settings.ingest.max_delay_ms / 1000
        while not stop.is_set():
            timeout = (
                min(_IDLE_FLUSH_S, max(0.0, max_delay - pending.age()))
                if pending.deliveries
                else 0.5
            )
            delivery = self._consumer.get(timeout)
            if delivery is not None:
                self.metrics.messages_received.inc()
                pending.add(delivery)
                if pending.readings < batch_size and pending.age() < max_delay:
                    continue
            if pending.deliveries:
                self._hand_over(handoff, pending, writer)
                pending = _Pending()
            self.metrics.queue_depth.set(self._consumer.depth())
        while (delivery := self._consumer.get(0)) is not None:  # taken: commit before leaving
            pending.add(delivery)
        if pending.deliveries:
            self._hand_over(handoff, pending, writer)

    @staticmethod
    def _hand_over(
        handoff: queue.Queue[_Pending | None], pending: _Pending, writer: threading.Thread
    ) -> None:
        if not hand_over(handoff, pending, writer):
            # run() re-raises the writer's own error
            raise RuntimeError("the ingest writer thread stopped")

    def _write_loop(self, handoff: queue.Queue[_Pending | None], stop: threading.Event) -> None:
        try:
            while (pending := handoff.get()) is not None:
                self._flush(pending, stop, final=stop.is_set())
        except BaseException as exc:  # handed to run(), which re-raises it
            log.exception("ingest writer failed")
            self._writer_error = exc

    def _wait_for_database(self, stop: threading.Event) -> psycopg.Connection:
        delay = 0.5
        while True:
            try:
                return self._writer.connection
            except DatabaseUnavailableError as exc:
                if stop.is_set():
                    raise
                log.warning("database unavailable, retrying", extra={"error": str(exc)})
                stop.wait(delay)
                delay = min(delay * 2, _RETRY_MAX_S)

    def _flush(self, pending: _Pending, stop: threading.Event, final: bool = False) -> None:
        """Write the pending messages, retrying while the database is unavailable, then ack."""
        delay = 0.5
        while True:
            try:
                messages = self._prepare(pending)
                started = time.monotonic()
                result = self._writer.write(messages)
                break
            except DatabaseUnavailableError as exc:
                self.metrics.database_errors.inc()
                log.warning("database unavailable, batch kept for retry", extra={"error": str(exc)})
                if final and stop.is_set() and delay > 4:
                    log.error("giving up at shutdown; the broker will redeliver the batch")
                    return
                time.sleep(delay)
                delay = min(delay * 2, _RETRY_MAX_S)
        self._record(pending, messages, result, time.monotonic() - started)
        for delivery in pending.deliveries:
            self._consumer.ack(delivery)

    def _prepare(self, pending: _Pending) -> list[Message]:
        conn = self._writer.connection
        topics = [_topic_or_error(d.topic) for d in pending.deliveries]
        gateways = [t.gateway for t in topics if isinstance(t, wire.Topic)]
        meters = [r.meter for b in pending.batches if isinstance(b, wire.Batch) for r in b.readings]
        self._directory.resolve(conn, gateways, meters)
        return [
            self._authorise(d, t, b)
            for d, t, b in zip(pending.deliveries, topics, pending.batches, strict=True)
        ]

    def _authorise(
        self,
        delivery: Delivery,
        topic: wire.Topic | WireFormatError,
        batch: wire.Batch | WireFormatError,
    ) -> Message:
        message = Message(delivery.topic, delivery.payload)
        if isinstance(topic, WireFormatError) or isinstance(batch, WireFormatError):
            message.fatal = f"malformed: {topic if isinstance(topic, WireFormatError) else batch}"
            return message
        problem = self._directory.gateway_problem(topic.enterprise, topic.gateway)
        if problem:
            message.fatal = f"unauthorised: {problem}"
            return message
        message.problems = [f"malformed: {r}" for r in batch.rejected]
        received = delivery.received_at
        for index, reading in enumerate(batch.readings):
            problem = self._directory.meter_problem(topic.enterprise, reading.meter)
            if problem:
                message.problems.append(f"readings[{index}]: {problem}")
                continue
            message.rows.append(
                (
                    reading.time,
                    reading.meter,
                    reading.quantity,
                    reading.value,
                    reading.quality.value,
                    received,
                )
            )
            message.row_indexes.append(index)
        return message

    def _record(
        self, pending: _Pending, messages: list[Message], result: WriteResult, seconds: float
    ) -> None:
        m = self.metrics
        rows = sum(len(x.rows) for x in messages)
        rejected = sum(len(x.problems) for x in messages)
        m.readings_received.inc(rows + rejected)
        m.readings_rejected.inc(rejected)
        m.readings_stored.inc(result.stored)
        m.readings_duplicate.inc(result.duplicates)
        m.messages_dead_lettered.inc(result.dead_lettered)
        m.batch_readings.observe(rows)
        m.commit_seconds.observe(seconds)
        m.receive_to_commit_seconds.observe(
            time.monotonic() - pending.deliveries[0].received_monotonic
        )
        committed = datetime.now(UTC)
        for batch in pending.batches:
            if isinstance(batch, wire.Batch):
                m.sent_to_commit_seconds.observe((committed - batch.sent_at).total_seconds())
        if result.dead_lettered:
            log.warning("messages dead-lettered", extra={"count": result.dead_lettered})
        log.debug(
            "batch committed",
            extra={
                "messages": len(messages),
                "stored": result.stored,
                "duplicates": result.duplicates,
            },
        )


def _topic_or_error(topic: str) -> wire.Topic | WireFormatError:
    try:
        return wire.parse_topic(topic)
    except WireFormatError as exc:
        return exc
