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
import time
from pathlib import Path

import psutil
import pytest

from launcher.demo import DEAD_LETTERS, DUPLICATES, STORED, parse_prometheus

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
