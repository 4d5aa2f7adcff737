"""Edge outbox throughput and agent memory.

    .venv/bin/python benchmarks/edge_outbox.py [--readings 200000] [--emit 200] [--batch 500]

1. write: readings/s committed to the outbox, ``--emit`` readings per transaction (as a driver
   emits one poll cycle), synchronous=FULL;
2. drain: readings/s published to MQTT (QoS 1) and deleted after their PUBACK, by the agent's
   publisher against the local Mosquitto (MQTT_URL, default mqtt://127.0.0.1:1883);
3. RSS of an agent process polling 200 simulated meters (simulator driver, live, 1 s interval).

Prints the figures, the drain/write ratio and one final JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil  # type: ignore[import-untyped]

from carbonledger.wire import Reading
from edge.agent import Agent, Outbox, load_gateway_config
from simulator import driver as simulator

MQTT_URL = os.environ.get("MQTT_URL", "mqtt://127.0.0.1:1883")
ENTERPRISE = "91331102MA2A00001X"
T0 = datetime(2026, 3, 2, tzinfo=UTC)


def make(n: int) -> list[Reading]:
    return [
        Reading(f"m-{i % 200:03d}", "energy_import", T0 + timedelta(seconds=i), i * 0.01)
        for i in range(n)
    ]


def bench_write(path: Path, readings: list[Reading], emit: int) -> float:
    box = Outbox(path)
    started = time.perf_counter()
    for i in range(0, len(readings), emit):
        box.write(readings[i : i + emit])
    elapsed = time.perf_counter() - started
    box.close()
    return len(readings) / elapsed


def gateway(tmp: Path, batch: int, device: str) -> Path:
    path = tmp / "gw.toml"
    path.write_text(
        f'gateway_id = "gw-bench"\nenterprise = "{ENTERPRISE}"\n'
        f'topic_root = "bench-{os.getpid()}"\n'
        f'[mqtt]\nurl = "{MQTT_URL}"\n[outbox]\npath = "outbox.sqlite"\n'
        f"[publish]\nbatch_size = {batch}\nmax_delay_ms = 50\nreplay_rate = 10000000\n"
        f"max_inflight = 16\n[heartbeat]\ninterval_s = 3600\n{device}",
        encoding="utf-8",
    )
    return path


async def _drain(config_path: Path, total: int) -> float:
    agent = Agent(load_gateway_config(config_path), drivers=[])
    stop = asyncio.Event()
    started = time.perf_counter()
    task = asyncio.create_task(agent.run(stop))
    while agent.outbox.box.depth > 0 and not task.done():
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - started
    stop.set()
    await task
    assert agent.counters.readings_published == total, agent.counters
    return total / elapsed


def bench_drain(tmp: Path, readings: list[Reading], batch: int) -> float:
    config = gateway(tmp, batch, '[[devices]]\ntype = "simulator"\nenterprises = 1\n')
    box = Outbox(tmp / "outbox.sqlite")
    for i in range(0, len(readings), 5_000):
        box.write(readings[i : i + 5_000])
    box.close()
    return asyncio.run(_drain(config, len(readings)))


def agent_rss(tmp: Path, meters: int = 200, seconds: float = 12.0) -> tuple[float, int]:
    """RSS (MB) of `python -m edge.agent` polling ``meters`` simulated meters every second."""
    city = simulator.Config(type="simulator", enterprises=80, seed=2026).city()
    chosen = [m.id for m in city.meters if m.cumulative][:meters]
    device = (
        '[[devices]]\ntype = "simulator"\nenterprises = 80\ninterval_s = 1\nmode = "live"\n'
        f"meters = {json.dumps(chosen)}\n"
    )
    config = gateway(tmp, 500, device)
    proc = subprocess.Popen(
        [sys.executable, "-m", "edge.agent", "--config", str(config), "--log-level", "WARNING"],
        cwd=Path(__file__).parents[1],
    )
    peak = 0.0
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            time.sleep(0.5)
            peak = max(peak, psutil.Process(proc.pid).memory_info().rss / 2**20)
    finally:
        proc.terminate()
        proc.wait(30)
    return peak, len(chosen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--readings", type=int, default=200_000)
    parser.add_argument("--emit", type=int, default=200, help="readings per outbox write")
    parser.add_argument("--batch", type=int, default=500, help="readings per MQTT message")
    args = parser.parse_args()
    readings = make(args.readings)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        write = bench_write(tmp / "w.sqlite", readings, args.emit)
        print(f"outbox write: {write:,.0f} readings/s ({args.emit} per transaction, FULL sync)")
        (tmp / "d").mkdir()
        drain = bench_drain(tmp / "d", readings, args.batch)
        print(f"outbox drain: {drain:,.0f} readings/s (QoS 1 to {MQTT_URL}, {args.batch}/message)")
        print(f"drain / write: {drain / write:.2f}")
        (tmp / "r").mkdir()
        rss, meters = agent_rss(tmp / "r")
        print(f"agent RSS polling {meters} meters every second: {rss:.1f} MB")
    print(
        json.dumps(
            {
                "outbox_write_readings_per_s": round(write),
                "outbox_drain_readings_per_s": round(drain),
                "drain_to_write_ratio": round(drain / write, 3),
                "agent_rss_mb_200_meters": round(rss, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
