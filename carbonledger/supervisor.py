"""Keeping N worker processes of one service running: ``ingest --workers N``, ``api --workers N``.

A worker that dies is replaced, so one crash does not shrink the service; one that keeps dying
soon after it starts is replaced after a pause that doubles up to :data:`MAX_BACKOFF_S`, so a
broken setting does not spin. A worker that exits with :data:`STARTUP_FAILURE` (it cannot start:
a port taken) stops them all, since a replacement would fail the same way. On stop every worker
gets SIGTERM, time to finish its work (ingest commits its batch, uvicorn its requests), then
SIGKILL.

The processes are whatever the service starts them as (:class:`multiprocessing.Process`,
:class:`subprocess.Popen`), behind the small :class:`Worker` interface.
"""

from __future__ import annotations

import logging
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from typing import Protocol

log = logging.getLogger(__name__)

STARTUP_FAILURE = 3
"""A worker's exit code for "cannot start" (uvicorn's own): stop, do not replace it."""
MAX_BACKOFF_S = 30.0
_HEALTHY_S = 10.0  # a worker that ran this long died of something else than its start


class Worker(Protocol):
    @property
    def pid(self) -> int | None: ...

    def exit_code(self) -> int | None:
        """None while it runs."""

    def terminate(self) -> None: ...

    def stop(self, timeout: float) -> None:
        """Wait up to ``timeout`` s for it to end after :meth:`terminate`, then kill it."""


class ProcessWorker:
    """A :class:`multiprocessing.Process` as a :class:`Worker`."""

    def __init__(self, process: BaseProcess) -> None:
        self.process = process

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def exit_code(self) -> int | None:
        return None if self.process.is_alive() else self.process.exitcode

    def terminate(self) -> None:
        self.process.terminate()

    def stop(self, timeout: float) -> None:
        self.process.join(timeout)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


class PopenWorker:
    """A :class:`subprocess.Popen` child as a :class:`Worker`."""

    def __init__(self, child: subprocess.Popen[bytes]) -> None:
        self.child = child

    @property
    def pid(self) -> int | None:
        return self.child.pid

    def exit_code(self) -> int | None:
        return self.child.poll()

    def terminate(self) -> None:
        if self.child.poll() is None:
            self.child.terminate()

    def stop(self, timeout: float) -> None:
        try:
            self.child.wait(timeout)
        except subprocess.TimeoutExpired:
            self.child.kill()
            self.child.wait()


@dataclass
class _Slot:
    worker: Worker
    started: float
    pause: float = 0.0  # before the next replacement
    died: float | None = None


def supervise(
    name: str,
    start: Callable[[int], Worker],
    count: int,
    stop: threading.Event,
    *,
    stop_timeout_s: float = 20.0,
    poll_s: float = 0.5,
) -> int:
    """Run ``start(index)`` for index 1..count until ``stop`` is set; the exit status (0 or 1)."""
    slots = {i: _Slot(start(i), time.monotonic()) for i in range(1, count + 1)}
    log.info("%s workers started", name, extra={"workers": count})
    status = 0
    try:
        while not stop.wait(poll_s):
            for index, slot in slots.items():
                code = slot.worker.exit_code()
                if code == STARTUP_FAILURE:
                    log.error("a %s worker could not start", name, extra={"pid": slot.worker.pid})
                    status = 1
                    stop.set()
                    break
                if code is not None:
                    _replace(name, index, slot, code, start)
    finally:
        for slot in slots.values():
            slot.worker.terminate()
        for slot in slots.values():
            slot.worker.stop(stop_timeout_s)
    return status


def _replace(name: str, index: int, slot: _Slot, code: int, start: Callable[[int], Worker]) -> None:
    now = time.monotonic()
    if slot.died is None:
        slot.died = now
        lived = now - slot.started
        slot.pause = 0.0 if lived > _HEALTHY_S else min(MAX_BACKOFF_S, 2 * slot.pause or 1.0)
        log.warning(
            "%s worker died; starting another",
            name,
            extra={"pid": slot.worker.pid, "exitcode": code, "in_s": slot.pause},
        )
    if now >= slot.died + slot.pause:
        slot.worker, slot.started, slot.died = start(index), now, None
