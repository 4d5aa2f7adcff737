"""The gateway agent: drivers → ``emit`` → durable outbox → publisher, with a heartbeat.

:class:`Agent` owns everything for one run (no module-level clients): the outbox (in its own
thread), the publisher task, one task per device driver (restarted after a delay if it crashes,
since one broken device must not stop the gateway) and the heartbeat task. :func:`run_gateway`
is the ``carbonledger edge run`` entry: it installs SIGTERM/SIGINT handlers that stop the
drivers, let the messages in flight be acknowledged (and deleted), publish a retained ``offline``
status, disconnect and close the outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import signal
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from carbonledger import wire
from carbonledger.errors import OutboxFullError
from carbonledger.tz import SHANGHAI
from carbonledger.wire import Reading
from edge.drivers import Driver
from edge.drivers.catalog import driver

from ._config import GatewayConfig, load_gateway_config
from ._counters import Counters
from ._outbox import Outbox
from ._publisher import OutboxWorker, Publisher

log = logging.getLogger("edge.agent")

DRIVER_RESTART_S = 5.0
SHUTDOWN_DRIVERS_S = 5.0
QUOTA_LOG_EVERY_S = 10.0


class Agent:
    """One gateway run (see the module docstring)."""

    def __init__(self, config: GatewayConfig, drivers: Sequence[Driver] | None = None) -> None:
        self.config = config
        self.counters = Counters()
        self.drivers = (
            list(drivers)
            if drivers is not None
            else [driver(d.type).create(d) for d in config.devices]
        )
        outbox = Outbox(
            config.outbox.path,
            quota_bytes=int(config.outbox.quota_mb * (1 << 20)),
            policy=config.outbox.when_full,
        )
        self.outbox = OutboxWorker(outbox)
        self.publisher = Publisher(config, self.outbox, self.counters)
        self.publisher.status_payload = self.status
        self._oldest: datetime | None = None
        self._quota_logged = -math.inf

    # -- status -------------------------------------------------------------------------------

    def status(self, state: Literal["online", "offline"], reason: str | None = None) -> bytes:
        """The retained status payload, with this run's heartbeat counters."""
        now = datetime.now(SHANGHAI)
        config = self.config
        fields = self.heartbeat_fields(now)
        return wire.status_payload(
            config.gateway_id, config.enterprise, state, now, reason, **fields
        )

    def heartbeat_fields(self, now: datetime) -> dict[str, Any]:
        box = self.outbox.box
        age = None if self._oldest is None else round((now - self._oldest).total_seconds(), 1)
        return {
            "uptime_s": round(self.counters.uptime_s(), 1),
            "outbox_depth": box.depth,
            "oldest_reading_age_s": age,
            "next_seq": box.next_seq,
            "quota_policy": str(box.policy),
            "quota_bytes": box.quota_bytes,
            **self.counters.snapshot(),
        }

    # -- emit -----------------------------------------------------------------------------------

    async def emit(self, readings: Sequence[Reading], source: str = "") -> None:
        """Store readings durably (one transaction) before returning; the driver may move on."""
        valid = [r for r in readings if self._valid(r, source)]
        if not valid:
            return
        try:
            result = await self.outbox.call(self.outbox.box.write, valid)
        except OutboxFullError as exc:
            self.counters.dropped_by_quota += exc.refused
            self._quota_alarm("outbox full: refusing new readings", exc.refused)
            return
        self.counters.readings_written += result.written
        if result.dropped:
            self.counters.dropped_by_quota += result.dropped
            self._quota_alarm("outbox full: dropped the oldest readings", result.dropped)
        self.publisher.notify(result.written)

    def _valid(self, r: Reading, source: str) -> bool:
        """Refuse a reading that would poison its batch (ingest would refuse it anyway)."""
        problem = wire.reading_problem(r)
        if problem is None:
            return True
        self.counters.rejected_invalid += 1
        log.warning("invalid reading skipped", extra={"device": source, "problem": problem})
        return False

    def _quota_alarm(self, message: str, count: int) -> None:
        """Loud, but at most one line per QUOTA_LOG_EVERY_S so the log does not fill the disk."""
        now = time.monotonic()
        if now - self._quota_logged >= QUOTA_LOG_EVERY_S:
            self._quota_logged = now
            log.error(
                message,
                extra={
                    "readings": count,
                    "dropped_by_quota_total": self.counters.dropped_by_quota,
                    "policy": str(self.outbox.box.policy),
                    "quota_bytes": self.outbox.box.quota_bytes,
                },
            )

    # -- running --------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set, then shut down in order (drivers, publisher, outbox)."""
        drivers_stop, publisher_stop = asyncio.Event(), asyncio.Event()
        log.info(
            "edge agent starting",
            extra={
                "gateway": self.config.gateway_id,
                "devices": len(self.drivers),
                "outbox": str(self.config.outbox.path),
                "outbox_depth": self.outbox.box.depth,
                "broker": f"{self.config.mqtt.host}:{self.config.mqtt.port}",
            },
        )
        publisher = asyncio.create_task(self.publisher.run(publisher_stop), name="publisher")
        heartbeat = asyncio.create_task(self._heartbeat(), name="heartbeat")
        drivers = [
            asyncio.create_task(self._supervise(d, drivers_stop), name=f"driver:{d.name}")
            for d in self.drivers
        ]
        try:
            await _first(stop, publisher)
        finally:
            drivers_stop.set()
            await _finish(drivers, SHUTDOWN_DRIVERS_S)
            publisher_stop.set()
            await _finish([publisher], self.config.publish.ack_timeout_s + 5)
            heartbeat.cancel()
            await _finish([heartbeat], 1)
            await self.outbox.close()
            log.info("edge agent stopped", extra=self.heartbeat_fields(datetime.now(SHANGHAI)))
        if publisher.done() and not publisher.cancelled():
            publisher.result()  # an outbox failure ends the run with its error

    async def _supervise(self, driver: Driver, stop: asyncio.Event) -> None:
        """Run a driver; if it crashes (a bug: drivers handle device faults), log and restart."""

        async def emit(readings: Sequence[Reading]) -> None:
            await self.emit(readings, driver.name)

        while not stop.is_set():
            try:
                await driver.run(emit, stop)
                log.info("driver finished", extra={"device": driver.name})
                return
            except asyncio.CancelledError:
                raise
            except Exception:  # any driver bug: keep the gateway and the other devices up
                self.counters.driver_restarts += 1
                log.exception("driver crashed; restarting", extra={"device": driver.name})
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), DRIVER_RESTART_S)

    async def _heartbeat(self) -> None:
        while True:
            self._oldest = await self.outbox.call(self.outbox.box.oldest_time)
            sent = await self.publisher.heartbeat()
            fields = self.heartbeat_fields(datetime.now(SHANGHAI))
            log.info("heartbeat", extra={**fields, "connected": sent})
            await asyncio.sleep(self.config.heartbeat.interval_s)


async def _first(stop: asyncio.Event, publisher: asyncio.Task[None]) -> None:
    waiter = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({waiter, publisher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()


async def _finish(tasks: list[asyncio.Task[None]], timeout: float) -> None:
    """Wait for tasks to end by themselves, cancel the ones that do not in ``timeout``."""
    if not tasks:
        return
    _, late = await asyncio.wait(tasks, timeout=timeout)
    for task in late:
        task.cancel()
    if late:
        await asyncio.wait(late)


async def _serve(config: GatewayConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await Agent(config).run(stop)


def run_gateway(config_path: Path) -> int:
    """``carbonledger edge run --config gateway.toml``: validate, then run until a signal."""
    config = load_gateway_config(config_path)
    asyncio.run(_serve(config))
    return 0
