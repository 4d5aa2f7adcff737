"""``carbonledger demo``: progress parsing, and (once ingest and the simulator exist) a real run.

The end-to-end test is the two-command start CI relies on: on an empty state directory, with no
DATABASE_URL and no MQTT_URL, ``demo --check`` must start everything, store readings, stop in order,
exit 0 and leave no process behind.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psutil
import pytest

from launcher.demo import (
    DEAD_LETTERS,
    DUPLICATES,
    STORED,
    Progress,
    Sample,
    interval_rate,
    parse_prometheus,
)

REPO = Path(__file__).resolve().parents[2]


def test_parse_prometheus_sums_label_sets_and_skips_comments() -> None:
    text = f"""
# HELP {STORED} readings newly stored
# TYPE {STORED} counter
{STORED} 1234.0
{STORED.removesuffix("_total")}_created 1.7e9
{DUPLICATES} 5
{DEAD_LETTERS}{{reason="bad json"}} 2.0
{DEAD_LETTERS}{{reason="unknown meter, {{x}}"}} 3
garbage line without value
"""
    values = parse_prometheus(text)
    assert values[STORED] == 1234
    assert values[DUPLICATES] == 5
    assert values[DEAD_LETTERS] == 5


class _Counter(BaseHTTPRequestHandler):
    """Serves ingest's stored-readings counter with the value the test sets."""

    stored = 0

    def do_GET(self) -> None:
        body = f"{STORED} {type(self).stored}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        del format, args


@pytest.fixture
def metrics() -> Iterator[tuple[str, type[_Counter]]]:
    counter = type("Counter", (_Counter,), {"stored": 0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), counter)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/metrics", counter
    finally:
        server.shutdown()
        server.server_close()


def test_progress_rate_is_over_the_last_interval(metrics: tuple[str, type[_Counter]]) -> None:
    """The progress line must read 0/s as soon as nothing is stored, not an average that keeps
    showing thousands per second."""
    url, counter = metrics
    progress = Progress(url, "postgresql://unused")
    for stored in (0, 10_000, 20_000, 30_000):
        counter.stored = stored
        assert progress.sample().stored == stored
        time.sleep(0.02)
    assert progress.rate() > 0
    progress.sample()  # ingest stalled: the counter has not moved since the last sample
    assert progress.rate() == 0.0


def test_interval_rate() -> None:
    def at(second: float, stored: int, source: str = "metrics") -> Sample:
        return Sample(second, stored, None, None, source)

    assert interval_rate(at(10, 8_000), at(12, 9_000)) == 500
    assert interval_rate(None, at(12, 9_000)) == 0.0
    assert interval_rate(at(10, 8_000), at(12, 9_000, "database")) == 0.0  # another source
    assert interval_rate(at(12, 9_000), at(12, 9_000)) == 0.0  # the cached row count again
    assert interval_rate(at(10, 9_000), at(12, 0)) == 0.0  # ingest restarted: its counter too


def test_progress_keeps_the_interval_across_a_cached_count() -> None:
    """The row count is cached for 5 s: repeats of it keep the rate of the interval it ended."""
    progress = Progress(None, "postgresql://unused")
    progress.record(Sample(0.0, 0, None, 0, "database"))
    progress.record(Sample(5.0, 500, None, 0, "database"))
    progress.record(Sample(5.0, 500, None, 0, "database"))
    assert progress.rate() == 100


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ImportError:
        return False


def _left_behind(state_dir: Path) -> list[str]:
    """Processes still tied to ``state_dir``: by command line or by inherited environment."""
    left = []
    for proc in psutil.process_iter(["pid", "cmdline", "status"]):
        if proc.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        cmdline = " ".join(proc.info["cmdline"] or [])
        try:
            env_dir = proc.environ().get("CARBONLEDGER_STATE_DIR")
        except psutil.Error:
            env_dir = None
        if str(state_dir) in cmdline or env_dir == str(state_dir):
            left.append(f"{proc.info['pid']}: {cmdline}")
    return left


@pytest.mark.timeout(180)
@pytest.mark.skipif(
    not (_importable("ingest.commands") and _importable("simulator.commands")),
    reason="needs `carbonledger ingest` and `carbonledger simulate`",
)
def test_demo_check_starts_everything_and_cleans_up(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "MQTT_URL")}
    env["CARBONLEDGER_STATE_DIR"] = str(state_dir)
    done = subprocess.run(
        [sys.executable, "-m", "launcher", "demo", "--check", "--duration", "20"],
        check=False,
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=170,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "carbonledger demo is running" in done.stdout
    assert "summary: readings stored" in done.stdout
    deadline = time.monotonic() + 5
    while (left := _left_behind(state_dir)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left
