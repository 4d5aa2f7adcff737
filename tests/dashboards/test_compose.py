"""docker-compose.yml loads, pins its images, refers only to files that exist, and has no
default secret: every password is a ``${VAR:?…}`` the operator must set (or, for the optional
simulator account, an empty one that creates no account)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from launcher.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
_REFERENCE = re.compile(r"\$\{(\w+)(:?[?-])?([^}]*)\}")
SECRETS = {"POSTGRES_PASSWORD", "GRAFANA_DB_PASSWORD", "GRAFANA_ADMIN_PASSWORD",
           "MQTT_INGEST_PASSWORD", "MQTT_SIMULATOR_PASSWORD"}  # fmt: skip


def _compose() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load(COMPOSE.read_text())  # type: ignore[no-any-return]


def test_images_are_pinned_and_services_complete() -> None:
    services = _compose()["services"]
    expected = {"db", "broker", "broker-config", "migrate", "ingest", "aggregate", "accounts",
                "api", "dashboards", "grafana", "simulator-registry", "simulator"}  # fmt: skip
    assert expected <= set(services)
    for name, service in services.items():
        image = service.get("image", "")
        assert re.fullmatch(r"[\w./-]+:\d[\w.-]*", image), f"{name}: {image!r} is not pinned"
    for name in ("simulator", "simulator-registry"):
        assert services[name]["profiles"] == ["simulator"]
    for name in ("db", "broker", "grafana", "ingest", "aggregate", "accounts", "api"):
        assert "test" in services[name]["healthcheck"], name


def test_mounted_files_exist_and_volumes_are_named() -> None:
    compose = _compose()
    named = set(compose["volumes"])
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in named, f"{name}: volume {source} is not declared"
    assert (ROOT / "Dockerfile").exists()


def test_every_command_is_a_carbonledger_command() -> None:
    """Services run `carbonledger <command>`; `api` comes from another branch."""
    parser = build_parser()
    choices = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for name, service in _compose()["services"].items():
        command = service.get("command")
        if service.get("image", "").startswith("carbonledger:") and command:
            assert command[0] in set(choices) | {"api"}, name


def test_no_default_secret_and_env_example_lists_every_variable() -> None:
    text = COMPOSE.read_text()
    references = _REFERENCE.findall(text)
    variables = {name for name, _, _ in references}
    for name, operator, _ in references:
        if name in SECRETS - {"MQTT_SIMULATOR_PASSWORD"}:
            assert operator == ":?", f"{name} must fail fast when unset"
        if name in SECRETS:
            assert operator != ":-" or name == "MQTT_SIMULATOR_PASSWORD", name
    example = dict(
        line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines()
        if line and not line.startswith("#")
    )  # fmt: skip
    assert variables <= set(example), f"missing in .env.example: {variables - set(example)}"
    assert all(example[name] == "" for name in SECRETS), "no usable password in .env.example"
    for name, service in _compose()["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if "PASSWORD" in key or "TOKEN" in key:
                assert str(value).startswith("${"), f"{name}: {key} is a literal"
    for user_and_password in re.findall(r"://(\w+:[^@\s]*)@", text):  # URLs carry references only
        assert user_and_password.split(":", 1)[1].startswith("${"), user_and_password


def test_grafana_reads_as_a_select_only_role_and_the_broker_needs_credentials() -> None:
    init = (ROOT / "deploy" / "db" / "grafana-reader.sh").read_text()
    assert "GRANT SELECT" in init and "default_transaction_read_only = on" in init
    assert "GRANT INSERT" not in init and "GRANT ALL" not in init
    conf = (ROOT / "deploy" / "mosquitto.conf").read_text()
    assert "allow_anonymous false" in conf
    assert "password_file /mosquitto/auth/passwd" in conf and "acl_file /mosquitto/auth/acl" in conf


@pytest.mark.skipif(not shutil.which("docker"), reason="docker is not installed")
def test_docker_compose_config_accepts_the_file(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    lines = ENV_EXAMPLE.read_text().splitlines()
    env.write_text("".join(f"{x}x\n" if x.split("=")[0] in SECRETS else f"{x}\n" for x in lines))
    check = ["docker", "compose", "-f", str(COMPOSE), "--env-file", str(env), "config", "-q"]
    if subprocess.run(
        ["docker", "compose", "version"], check=False, capture_output=True
    ).returncode:
        pytest.skip("the docker compose plugin is not installed")
    assert subprocess.run(check, check=False, capture_output=True).returncode == 0
    empty = ["docker", "compose", "-f", str(COMPOSE), "--env-file", str(ENV_EXAMPLE), "config"]
    refused = subprocess.run(empty, check=False, capture_output=True, text=True)
    assert refused.returncode != 0 and "POSTGRES_PASSWORD" in refused.stderr
