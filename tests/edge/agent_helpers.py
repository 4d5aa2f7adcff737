"""Helpers for the edge agent tests: gateway configs, an agent in a thread, the registry."""

from __future__ import annotations

import asyncio
import tempfile
import threading
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

from carbonledger.wire import Reading
from edge.agent import Agent, GatewayConfig, load_gateway_config
from simulator import driver as simulator
from simulator.registry import register_city

START = "2026-03-02T08:00:00+08:00"


def pick_enterprise(enterprises: int = 20, seed: int = 2026, min_meters: int = 3) -> str:
    """An enterprise of the seeded city with at least ``min_meters`` meters (deterministic)."""
    city = simulator.Config(type="simulator", enterprises=enterprises, seed=seed).city()
    for enterprise in city.enterprises:
        if sum(m.enterprise_code == enterprise.code for m in city.meters) >= min_meters:
            return enterprise.code
    raise AssertionError("no enterprise with enough meters")


def gateway_toml(
    tmp: Path,
    url: str,
    root: str,
    *,
    enterprise: str,
    device: dict[str, Any],
    outbox: dict[str, Any] | None = None,
    publish: dict[str, Any] | None = None,
    mqtt: dict[str, Any] | None = None,
    heartbeat_s: float = 0.5,
) -> Path:
    """Write a gateway config for ``enterprise``'s simulated gateway; returns its path."""
    gateway = "gw-" + enterprise[8:]
    sections = {
        "mqtt": {"url": url, "reconnect_min_s": 0.2, "reconnect_max_s": 1.0, **(mqtt or {})},
        "outbox": {"path": "outbox.sqlite", **(outbox or {})},
        "publish": {"batch_size": 100, "max_delay_ms": 100, **(publish or {})},
        "heartbeat": {"interval_s": heartbeat_s},
    }
    lines = [f'gateway_id = "{gateway}"', f'enterprise = "{enterprise}"', f'topic_root = "{root}"']
    for name, values in sections.items():
        lines += ["", f"[{name}]", *(f"{k} = {_toml(v)}" for k, v in values.items())]
    lines += ["", "[[devices]]", *(f"{k} = {_toml(v)}" for k, v in device.items())]
    path = tmp / "gateway.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _toml(value: object) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return str(value)


def sim_device(enterprise: str, *, ticks: int, mode: str = "fast", **extra: Any) -> dict[str, Any]:
    start = datetime.fromisoformat(START)
    end = start.timestamp() + 15 * (ticks - 1)
    return {
        "type": "simulator",
        "enterprises": 20,
        "seed": 2026,
        "enterprise": enterprise,
        "interval_s": 15,
        "mode": mode,
        "start": START,
        "end": datetime.fromtimestamp(end, start.tzinfo).isoformat(),
        **extra,
    }


def expected(config_path: Path) -> list[Reading]:
    device = load_gateway_config(config_path).devices[0]
    return simulator.expected_readings(device)


def register(db_url: str, config_path: Path) -> None:
    device = load_gateway_config(config_path).devices[0]
    with psycopg.connect(db_url) as conn:
        register_city(conn, device.selected())


def stored(db_url: str) -> list[tuple[str, str, datetime, float, str]]:
    with psycopg.connect(db_url) as conn:
        return [
            (m, q, t, v, ql)
            for m, q, t, v, ql in conn.execute(
                "SELECT meter_id, quantity, time, value, quality FROM readings"
            )
        ]


def as_rows(readings: Sequence[Reading]) -> list[tuple[str, str, datetime, float, str]]:
    return [(r.meter, r.quantity, r.time, r.value, str(r.quality)) for r in readings]


def world_readable_dir() -> Path:
    """A directory Mosquitto can use after dropping root (pytest's tmp_path is 0700 under /tmp)."""
    path = Path(tempfile.mkdtemp(prefix="cl-broker-"))
    path.chmod(0o755)
    return path


class AgentThread:
    """An :class:`Agent` on its own event loop in a thread of the test process."""

    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        self.agent: Agent | None = None
        self.error: BaseException | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # noqa: BLE001 - surfaced by close()
            self.error = exc
            self._ready.set()

    async def _main(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.stop = asyncio.Event()
        self.agent = Agent(self.config)
        self._ready.set()
        await self.agent.run(self.stop)

    def __enter__(self) -> AgentThread:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.stop.set)
        self._thread.join(40)
        assert not self._thread.is_alive()
        if self.error:
            raise self.error
