"""The publisher: outbox → wire-format batches → MQTT QoS 1 → delete after the PUBACK.

One task, one connection at a time (:class:`~._mqtt.MqttLink`). Per connection it first re-sends
every numbered batch that was never acknowledged (same seq, oldest first), then numbers and sends
new batches as readings arrive: when ``batch_size`` readings wait or the oldest has waited
``max_delay_ms``. At most ``max_inflight`` messages await their PUBACK; a token bucket caps the
rate at ``replay_rate`` readings/s, which live traffic never reaches, so it only paces a backlog
replayed after an outage. A lost connection, a refused publish or a PUBACK that does not come in
``ack_timeout_s`` ends the connection; the next one (after an exponential backoff) starts again
from the outbox, so nothing depends on what was in flight.

A PUBACK is not always a delivery: with MQTT 5 the broker says "no matching subscribers" (0x10)
when it discarded the message because nobody subscribes to it, as after every Mosquitto restart
until ingest has subscribed again (Mosquitto does not persist shared subscriptions). Such a batch
is treated like a refused one: it stays in the outbox, and the connection ends and is made again
after the backoff, so the gateway neither loses the readings nor hammers the broker meanwhile.
(MQTT 3.1.1 has no such reason code: there a PUBACK is taken at its word.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, Literal, ParamSpec, TypeVar

from carbonledger import wire
from carbonledger.errors import BrokerUnavailableError
from carbonledger.tz import SHANGHAI
from carbonledger.wire import encode, readings_topic

from ._config import GatewayConfig
from ._counters import Counters
from ._mqtt import ConnectionLostError, MqttLink, NoSubscribersError, PublishRefusedError
from ._outbox import Outbox, StoredBatch

log = logging.getLogger("edge.agent.publisher")

P = ParamSpec("P")
T = TypeVar("T")
StatusPayload = Callable[[Literal["online", "offline"], str | None], bytes]


class OutboxWorker:
    """The outbox confined to one thread: every call is serialised there, off the event loop."""

    def __init__(self, outbox: Outbox) -> None:
        self.box = outbox
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="outbox")

    async def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: fn(*args, **kwargs))

    async def close(self) -> None:
        await self.call(self.box.close)
        self._executor.shutdown(wait=True)


class RateLimiter:
    """A token bucket in readings/s; a batch may borrow, the next one waits off the debt."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, burst
        self._tokens, self._at = burst, time.monotonic()

    async def take(self, count: int) -> None:
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        self._tokens -= count
        if self._tokens < 0:
            await asyncio.sleep(-self._tokens / self.rate)


class Publisher:
    """Drains the outbox to the broker (see the module docstring)."""

    def __init__(self, config: GatewayConfig, outbox: OutboxWorker, counters: Counters) -> None:
        self.config = config
        self.outbox = outbox
        self.counters = counters
        self.topic = readings_topic(config.enterprise, config.gateway_id, config.topic_root)
        self.link: MqttLink | None = None
        self.unassigned = 0  # readings written but not yet in a batch (approximate, self-healing)
        self._first_at: float | None = None  # when the oldest of them was written (monotonic)
        self._wake = asyncio.Event()
        self._limit = RateLimiter(config.publish.replay_rate, config.publish.batch_size)
        self._acks: set[asyncio.Task[None]] = set()
        self._refused = False  # this connection's broker did not take a batch: back off after it
        self.status_payload: StatusPayload = _bare_status(config)

    def notify(self, written: int) -> None:
        """Readings were committed to the outbox (called by the agent's ``emit``)."""
        if written and self.unassigned == 0:
            self._first_at = time.monotonic()
        self.unassigned += written
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Connect, drain, reconnect with backoff, until ``stop``; then a clean goodbye."""
        backlog = await self.outbox.call(self.outbox.box.unassigned)
        if backlog:
            self.unassigned, self._first_at = backlog, float("-inf")  # send at once
        mqtt = self.config.mqtt
        delay = mqtt.reconnect_min_s
        while not stop.is_set():
            link = MqttLink(mqtt, mqtt.client_id or self.config.gateway_id, self._will())
            try:
                await link.connect()
            except BrokerUnavailableError as exc:
                await link.aclose()
                log.warning("broker unreachable", extra={"error": str(exc), "retry_s": delay})
            else:
                self._refused = False
                await self._connected(link, stop)
                if not self._refused:
                    delay = mqtt.reconnect_min_s
                    continue
                # connected, but the broker did not take the readings: back off, not a tight loop
            await _sleep_unless(stop, delay)
            delay = min(delay * 2, mqtt.reconnect_max_s)

    def _will(self) -> tuple[str, bytes]:
        return self.config.status_topic, self.status_payload("offline", "connection lost")

    async def _connected(self, link: MqttLink, stop: asyncio.Event) -> None:
        self.link = link
        self.counters.connects += 1
        log.info("connected to broker", extra={"broker": link.where, "topic": self.topic})
        try:
            await self._until_lost(link, self._drain(link, stop))
        except BrokerUnavailableError as exc:
            self.counters.disconnects += 1
            log.warning("connection lost; outbox keeps every reading", extra={"error": str(exc)})
        finally:
            self.link = None
            if stop.is_set():
                await self._goodbye(link)
            await link.aclose()
            await self._settle_acks()

    async def _until_lost(self, link: MqttLink, work: Awaitable[None]) -> None:
        """Run ``work`` until it ends or the connection is lost (then cancel it and raise)."""
        task = asyncio.ensure_future(work)
        try:
            await asyncio.wait({task, link.lost}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            task.cancel()
            raise
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            raise ConnectionLostError(f"connection to {link.where} lost")
        task.result()

    async def _drain(self, link: MqttLink, stop: asyncio.Event) -> None:
        window = asyncio.Semaphore(self.config.publish.max_inflight)
        await self._send_status(link, "online")
        for seq in await self.outbox.call(self.outbox.box.unacked):
            batch = await self.outbox.call(self.outbox.box.load, seq)
            if batch is not None and not stop.is_set():
                log.info("re-sending unacknowledged batch", extra={"seq": seq})
                await self._send(link, batch, window)
        while await self._rows_ready(stop):
            batch = await self.outbox.call(
                self.outbox.box.next_batch, self.config.publish.batch_size, datetime.now(SHANGHAI)
            )
            self._taken(0 if batch is None else len(batch.readings))
            if batch is not None:
                await self._send(link, batch, window)
        await self._flush(link)

    async def _rows_ready(self, stop: asyncio.Event) -> bool:
        """Wait until a batch is due: full, or its oldest reading waited ``max_delay_ms``."""
        publish = self.config.publish
        while not stop.is_set():
            timeout: float | None = None
            if self.unassigned >= publish.batch_size:
                return True
            if self.unassigned > 0 and self._first_at is not None:
                timeout = self._first_at + publish.max_delay_ms / 1000 - time.monotonic()
                if timeout <= 0:
                    return True
            self._wake.clear()
            await _wait_any(self._wake, stop, timeout)
        return False

    def _taken(self, count: int) -> None:
        if count < self.config.publish.batch_size:
            self.unassigned, self._first_at = 0, None  # everything that was there is batched
        else:
            self.unassigned -= count  # the rest is older still: keep _first_at, send soon

    async def _send(self, link: MqttLink, batch: StoredBatch, window: asyncio.Semaphore) -> None:
        await self._limit.take(len(batch.readings))
        await window.acquire()
        try:
            future = link.publish(self.topic, encode(batch.seq, batch.readings, batch.sent_at))
        except BaseException:
            window.release()
            raise
        task = asyncio.create_task(self._await_ack(link, future, batch, window))
        self._acks.add(task)
        task.add_done_callback(self._acks.discard)

    async def _await_ack(
        self, link: MqttLink, future: asyncio.Future[None], batch: StoredBatch, window: Any
    ) -> None:
        try:
            await asyncio.wait_for(future, self.config.publish.ack_timeout_s)
            deleted = await self.outbox.call(self.outbox.box.ack, batch.seq)
            self.counters.published(deleted)
        except TimeoutError:
            log.warning("no PUBACK in time; reconnecting", extra={"seq": batch.seq})
            link.close()  # completes link.lost: the connection starts over from the outbox
        except PublishRefusedError as exc:
            self.counters.publish_failures += 1
            if not self._refused:  # one line per connection, not one per batch in flight
                self._refused = True
                message = (
                    "the broker has no subscriber for readings (ingest away?); keeping them"
                    if isinstance(exc, NoSubscribersError)
                    else "the broker refused a batch; keeping it"
                )
                log.warning(message, extra={"seq": batch.seq, "error": str(exc)})
            link.close()
        except BrokerUnavailableError as exc:
            self.counters.publish_failures += 1
            log.debug("batch not acknowledged", extra={"seq": batch.seq, "error": str(exc)})
            link.close()
        finally:
            window.release()

    async def _flush(self, link: MqttLink) -> None:
        """On stop: give the messages in flight a moment to be acknowledged (and deleted)."""
        if self._acks:
            await asyncio.wait(set(self._acks), timeout=min(5.0, self.config.publish.ack_timeout_s))

    async def _settle_acks(self) -> None:
        """After a connection ends, let the ack tasks observe the failure before reconnecting."""
        if self._acks:
            await asyncio.wait(set(self._acks), timeout=5.0)

    async def _send_status(
        self, link: MqttLink, state: Literal["online", "offline"], reason: str | None = None
    ) -> None:
        future = link.publish(
            self.config.status_topic, self.status_payload(state, reason), retain=True
        )
        future.add_done_callback(_ignore_failure)

    async def heartbeat(self) -> bool:
        """Publish the retained status with the counters now; False when not connected."""
        link = self.link
        if link is None or link.lost.done():
            return False
        with contextlib.suppress(BrokerUnavailableError):
            await self._send_status(link, "online")
            return True
        return False

    async def _goodbye(self, link: MqttLink) -> None:
        if link.lost.done():
            return
        with contextlib.suppress(BrokerUnavailableError, TimeoutError):
            future = link.publish(
                self.config.status_topic, self.status_payload("offline", "shutdown"), retain=True
            )
            await asyncio.wait_for(future, 2.0)


def _ignore_failure(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()  # a status message lost with its connection: the next one replaces it


def _bare_status(config: GatewayConfig) -> StatusPayload:
    def payload(state: Literal["online", "offline"], reason: str | None) -> bytes:
        now = datetime.now(SHANGHAI)
        return wire.status_payload(config.gateway_id, config.enterprise, state, now, reason)

    return payload


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def _wait_any(a: asyncio.Event, b: asyncio.Event, timeout: float | None) -> None:
    waiters = {asyncio.ensure_future(a.wait()), asyncio.ensure_future(b.wait())}
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
