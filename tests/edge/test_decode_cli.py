"""``carbonledger edge decode`` as a subprocess: good and bad lines, exit status 0."""

from __future__ import annotations

import json
import subprocess
import sys

# Only the edge command family is loaded: the test does not depend on other teams' commands.
RUN_CLI = (
    "import sys; from launcher import cli; "
    "cli.COMMAND_MODULES = ('edge.commands',); sys.exit(cli.main())"
)


def _run(protocol: str, stdin: bytes, *extra: str) -> tuple[int, list[dict[str, object]]]:
    done = subprocess.run(
        [sys.executable, "-c", RUN_CLI, "edge", "decode", protocol, *extra],
        input=stdin,
        capture_output=True,
        timeout=30,
        check=False,
    )
    return done.returncode, [json.loads(line) for line in done.stdout.decode().splitlines()]


def test_hj212_lines() -> None:
    good = (
        b"##0101QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;"
        b"CP=&&RtdInterval=30&&1C80"
    )
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
