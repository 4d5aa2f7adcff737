"""Field drivers: each turns one kind of device into wire-format readings.

Every driver lives in its own folder, ``edge/drivers/<protocol>/`` (Telegraf's layout), with its
codec (pure functions of bytes), its config model, its README, a sample config and golden test
cases. The agent knows drivers only through this interface and the catalogue in
:mod:`edge.drivers.catalog`: adding a protocol is a folder and one line there, adding a meter
model is a profile file.

A driver runs until ``stop`` is set and hands readings to ``emit`` (which writes them to the
durable outbox before returning). Polling drivers (Modbus, DL/T 645) poll on their interval; push
drivers (HJ 212, whose data loggers connect to us) emit as packets arrive. A driver never raises
for a device that misbehaves: it logs, counts and retries, because one broken meter must not stop
the gateway.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from carbonledger.wire import Reading

Emit = Callable[[Sequence[Reading]], Awaitable[None]]


class Driver(Protocol):
    """A running field driver (one configured device or listener)."""

    name: str

    async def run(self, emit: Emit, stop: asyncio.Event) -> None:
        """Produce readings until ``stop`` is set."""
        ...


async def poll_every(
    interval_s: float, poll: Callable[[], Awaitable[list[Reading]]], emit: Emit, stop: asyncio.Event
) -> None:
    """Run ``poll`` every ``interval_s`` (start to start) and emit what it returns, until ``stop``.

    A round that overruns the interval starts the next one at once rather than skipping it.
    """
    while not stop.is_set():
        started = time.monotonic()
        readings = await poll()
        if readings:
            await emit(readings)
        wait = interval_s - (time.monotonic() - started)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), max(wait, 0))
