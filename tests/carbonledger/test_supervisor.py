"""The worker supervisor with real child processes: replacement, back-off, startup failure, stop."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable

from carbonledger.supervisor import STARTUP_FAILURE, PopenWorker, supervise


def _child(code: str) -> PopenWorker:
    return PopenWorker(subprocess.Popen([sys.executable, "-c", code]))


def _run(start: Callable[[int], PopenWorker], count: int, seconds: float) -> tuple[int, float]:
    stop = threading.Event()
    timer = threading.Timer(seconds, stop.set)
    timer.start()
    began = time.monotonic()
    try:
        status = supervise("test", start, count, stop, stop_timeout_s=5, poll_s=0.05)
    finally:
        timer.cancel()
    return status, time.monotonic() - began


def test_a_dead_worker_is_replaced_with_a_growing_pause() -> None:
    starts: list[int] = []

    def start(index: int) -> PopenWorker:
        starts.append(index)
        return _child("raise SystemExit(1)" if index == 1 else "import time; time.sleep(60)")

    status, _ = _run(start, 2, 4.0)
    assert status == 0
    # worker 1 dies at once, each time: replaced after 1 s, then 2 s (not hundreds of times)
    assert starts.count(1) == 3
    assert starts.count(2) == 1


def test_a_worker_that_cannot_start_stops_them_all() -> None:
    workers: list[PopenWorker] = []

    def start(index: int) -> PopenWorker:
        code = (
            f"raise SystemExit({STARTUP_FAILURE})" if index == 2 else "import time; time.sleep(60)"
        )
        workers.append(_child(code))
        return workers[-1]

    status, took = _run(start, 2, 30.0)
    assert status == 1
    assert took < 10
    assert all(w.exit_code() is not None for w in workers)


def test_stop_terminates_every_worker() -> None:
    workers: list[PopenWorker] = []

    def start(_index: int) -> PopenWorker:
        workers.append(_child("import time; time.sleep(60)"))
        return workers[-1]

    status, took = _run(start, 3, 0.5)
    assert status == 0
    assert took < 5
    assert [w.exit_code() for w in workers] == [-15, -15, -15]
