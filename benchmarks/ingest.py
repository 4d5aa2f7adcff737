"""Ingest throughput, end to end, against its ceiling and a naive baseline, in one run.

    .venv/bin/python benchmarks/ingest.py                    # 2 M readings, 1 and 2 workers
    .venv/bin/python benchmarks/ingest.py --readings 500000 --workers 1
    .venv/bin/python benchmarks/ingest.py --soak 600 --rate 50000   # 10 minutes; is RSS bounded?

Measures, on the servers at DATABASE_URL (admin; a scratch database is created and dropped) and
MQTT_URL (it must keep QoS 1 backlogs: `max_queued_messages` well above the default 1000):

(a) the raw PostgreSQL COPY limit into ``readings`` (binary COPY, 50,000-row transactions);
(b) a naive baseline: a paho-mqtt consumer that INSERTs and commits each reading on its own;
(c) ``carbonledger ingest --workers N`` end to end: a publisher process sends pre-encoded
    500-reading messages (QoS 1, 1,000 in flight) as fast as the broker takes them; the clock runs
    from the first publish to the last reading committed. Latency is the gateway ``sent_at`` (set
    at publish time) to commit, from ingest's own histogram. Peak RSS is the workers' sum.

Prints a table, the ratios, and last one JSON line.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as paho
import psutil
import psycopg
from _common import create_database, drop_database

from carbonledger import wire
from carbonledger.db import migrate
from carbonledger.mqtt import MqttEndpoint
from launcher.embedded import MosquittoBroker, free_port

MQTT_URL = os.environ.get("MQTT_URL", "")  # unset: a private Mosquitto that keeps backlogs
METERS_PER_GATEWAY = 30
READINGS_PER_MESSAGE = 500
SENT_AT_PLACEHOLDER = "2000-01-01T00:00:00.000001+00:00"  # same width as a real microsecond stamp
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def register(url: str, gateways: int) -> list[tuple[str, str, list[str]]]:
    sites = []
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        for g in range(gateways):
            code = f"9133110{g:010d}X"
            meters = [f"b{g}-m{m}" for m in range(METERS_PER_GATEWAY)]
            cur.execute(
                "INSERT INTO enterprises VALUES (%s, %s, '3011', '莲都区')", (code, f"e{g}")
            )
            cur.execute(
                "INSERT INTO gateways (id, enterprise_code) VALUES (%s, %s)", (f"gw{g}", code)
            )
            cur.executemany(
                "INSERT INTO meters (id, enterprise_code, gateway_id, carrier, quantity, unit)"
                " VALUES (%s, %s, %s, 'electricity', 'energy_import', 'kWh')",
                [(m, code, f"gw{g}") for m in meters],
            )
            sites.append((code, f"gw{g}", meters))
    return sites


def payloads(sites: list[tuple[str, str, list[str]]], readings: int, root: str, offset: int = 0):
    """Pre-encoded messages: each gateway sends its meters tick by tick, 500 readings a message."""
    ticks = max(1, readings // (len(sites) * METERS_PER_GATEWAY))
    placeholder = datetime.fromisoformat(SENT_AT_PLACEHOLDER)
    messages = []
    for code, gateway, meters in sites:
        topic = wire.readings_topic(code, gateway, root)
        rows = [
            wire.Reading(m, "energy_import", T0 + timedelta(seconds=15 * (offset + t)), 1.0 * t)
            for t in range(ticks)
            for m in meters
        ]
        for seq, i in enumerate(range(0, len(rows), READINGS_PER_MESSAGE)):
            chunk = rows[i : i + READINGS_PER_MESSAGE]
            messages.append((topic, wire.encode(seq, chunk, placeholder), len(chunk)))
    messages.sort(key=lambda m: m[1][20:60])  # interleave gateways as a city would
    return messages


def publish(messages, url: str, ready: mp.Event) -> None:  # type: ignore[no-untyped-def]
    endpoint = MqttEndpoint.from_url(url)
    client = endpoint.client(f"bench-pub-{uuid.uuid4().hex[:6]}")
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect(endpoint.host, endpoint.port)
    client.loop_start()
    ready.wait()
    marker = SENT_AT_PLACEHOLDER.encode()
    infos = []
    for topic, payload, _ in messages:
        stamp = datetime.now(UTC).isoformat(timespec="microseconds").encode()
        infos.append(client.publish(topic, payload.replace(marker, stamp, 1), qos=1))
    for info in infos:
        info.wait_for_publish(120)
    client.disconnect()
    client.loop_stop()


def copy_limit(url: str, rows: int) -> float:
    """The server's own limit: pre-rendered COPY text, 50,000-row transactions, nothing else."""
    chunk = 50_000
    blocks = []
    for start_row in range(0, rows, chunk):
        lines = []
        for i in range(start_row, min(rows, start_row + chunk)):
            at = (T0 + timedelta(seconds=15 * (i // 3000))).isoformat()
            lines.append(f"{at}\tb{(i % 3000) // 30}-m{i % 30}\tenergy_import\t1.0\tgood\n")
        blocks.append("".join(lines).encode())
    with psycopg.connect(url) as conn:
        conn.execute("TRUNCATE readings")
        conn.commit()
        start = time.perf_counter()
        for block in blocks:
            with conn.cursor().copy(
                "COPY readings (time, meter_id, quantity, value, quality) FROM STDIN"
            ) as copy:
                copy.write(block)
            conn.commit()
        return rows / (time.perf_counter() - start)


def baseline(url: str, messages, seconds: float, root: str) -> float:  # type: ignore[no-untyped-def]
    """A naive consumer: one INSERT and one commit per reading."""
    endpoint = MqttEndpoint.from_url(MQTT_URL)
    conn = psycopg.connect(url)
    conn.execute("TRUNCATE readings")
    conn.commit()
    stored = 0
    deadline = [0.0]

    def on_message(client: paho.Client, userdata: object, message: paho.MQTTMessage) -> None:
        nonlocal stored
        if deadline[0] and time.perf_counter() > deadline[0]:
            return
        for r in wire.decode(message.payload).readings:
            conn.execute(
                "INSERT INTO readings (time, meter_id, quantity, value, quality) VALUES"
                " (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (r.time, r.meter, r.quantity, r.value, r.quality.value),
            )
            conn.commit()
            stored += 1

    client = endpoint.client(f"bench-naive-{uuid.uuid4().hex[:6]}")
    client.on_message = on_message
    client.connect(endpoint.host, endpoint.port)
    client.subscribe(wire.readings_subscription(root), qos=1)  # the same messages ingest gets
    client.loop_start()
    time.sleep(0.5)
    ready = mp.Event()
    ready.set()
    publisher = mp.Process(target=publish, args=(messages, MQTT_URL, ready))
    start = time.perf_counter()
    deadline[0] = start + seconds
    publisher.start()
    time.sleep(seconds)
    rate = stored / (time.perf_counter() - start)
    client.disconnect()
    client.loop_stop()
    publisher.terminate()
    conn.close()
    return rate


def scrape(ports: list[int]) -> dict[str, float]:
    totals: dict[str, float] = {}
    for port in ports:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                text = r.read().decode()
        except OSError:
            continue
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                totals[name] = totals.get(name, 0.0) + float(value)
    return totals


def quantile(metrics: dict[str, float], name: str, q: float) -> float:
    prefix = f'{name}_bucket{{le="'
    buckets = sorted(
        (float(k[len(prefix) : -2]) if "+Inf" not in k else float("inf"), v)
        for k, v in metrics.items()
        if k.startswith(prefix)
    )
    total = buckets[-1][1] if buckets else 0
    if not total:
        return float("nan")
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= q * total:
            if bound == float("inf"):
                return lower_bound
            share = (q * total - lower_count) / max(count - lower_count, 1e-9)
            return lower_bound + (bound - lower_bound) * share
        lower_bound, lower_count = bound, count
    return lower_bound


def start_workers(url: str, workers: int, root: str) -> tuple[subprocess.Popen[bytes], list[int]]:
    """``carbonledger ingest --workers N`` on a fresh shared group, once it serves metrics."""
    base_port = free_port()
    group = f"bench-{uuid.uuid4().hex[:6]}"
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "MQTT_URL": MQTT_URL,
        "CARBONLEDGER_TOPIC_ROOT": root,
        "CARBONLEDGER_INGEST__SHARED_GROUP": group,
        "CARBONLEDGER_INGEST__CLIENT_ID": group,
        "CARBONLEDGER_INGEST__METRICS_PORT": str(base_port),
        "CARBONLEDGER_LOG_LEVEL": "WARNING",
    }
    supervisor = subprocess.Popen(
        [sys.executable, "-m", "launcher", "ingest", "--workers", str(workers)], env=env
    )
    ports = [base_port + i for i in range(workers)]
    while not any("readings_stored_total" in k for k in scrape(ports)):
        time.sleep(0.2)
    time.sleep(1.0)  # subscribed
    return supervisor, ports


def workers_rss_mb(supervisor: subprocess.Popen[bytes], workers: int) -> float:
    processes = [psutil.Process(supervisor.pid)]
    if workers > 1:  # the supervisor only waits; the workers are its children
        processes = psutil.Process(supervisor.pid).children()
    return sum(p.memory_info().rss for p in processes) / 2**20


def run_ingest(url: str, messages, workers: int, root: str) -> dict[str, float]:  # type: ignore[no-untyped-def]
    total = sum(n for _, _, n in messages)
    with psycopg.connect(url) as conn:
        conn.execute("TRUNCATE readings, reading_changes")
    supervisor, ports = start_workers(url, workers, root)
    ready = mp.Event()
    publisher = mp.Process(target=publish, args=(messages, MQTT_URL, ready))
    publisher.start()
    time.sleep(1.0)
    peak_rss = 0.0
    start = time.perf_counter()
    ready.set()
    stored = 0.0
    while stored < total:
        time.sleep(0.25)
        stored = scrape(ports).get("carbonledger_ingest_readings_stored_total", 0.0)
        peak_rss = max(peak_rss, workers_rss_mb(supervisor, workers))
        if time.perf_counter() - start > 600:
            raise SystemExit(f"only {stored:.0f} of {total} readings stored after 600 s")
    elapsed = time.perf_counter() - start
    metrics = scrape(ports)
    publisher.join()
    supervisor.terminate()
    supervisor.wait(30)
    name = "carbonledger_ingest_sent_to_commit_seconds"
    return {
        "readings_per_s": total / elapsed,
        "p50_ms": quantile(metrics, name, 0.50) * 1000,
        "p99_ms": quantile(metrics, name, 0.99) * 1000,
        "peak_rss_mb": peak_rss,
    }


def publish_at_rate(sites, root: str, rate: float, seconds: float, url: str) -> None:  # type: ignore[no-untyped-def]
    """Fresh readings (advancing time, so nothing is a duplicate) at ``rate`` readings/s."""
    ticks = READINGS_PER_MESSAGE // METERS_PER_GATEWAY
    dummy = [datetime(2000, 1, 1, tzinfo=UTC) + timedelta(seconds=k) for k in range(ticks)]
    templates = []
    for code, gateway, meters in sites:
        rows = [
            wire.Reading(m, "energy_import", dummy[k], 1.0) for k in range(ticks) for m in meters
        ]
        sent_at = datetime.fromisoformat(SENT_AT_PLACEHOLDER)
        templates.append((wire.readings_topic(code, gateway, root), wire.encode(0, rows, sent_at)))
    per_message = ticks * METERS_PER_GATEWAY
    endpoint = MqttEndpoint.from_url(url)
    client = endpoint.client(f"bench-soak-{uuid.uuid4().hex[:6]}")
    client.max_inflight_messages_set(1000)
    client.connect(endpoint.host, endpoint.port)
    client.loop_start()
    start = time.perf_counter()
    sent = 0
    round_index = 0
    while time.perf_counter() - start < seconds:
        for topic, template in templates:
            payload = template
            for k in range(ticks):
                at = T0 + timedelta(seconds=15 * (round_index * ticks + k))
                payload = payload.replace(
                    f'"{dummy[k].isoformat()}"'.encode(), f'"{at.isoformat()}"'.encode()
                )
            stamp = datetime.now(UTC).isoformat(timespec="microseconds").encode()
            client.publish(topic, payload.replace(SENT_AT_PLACEHOLDER.encode(), stamp, 1), qos=1)
            sent += per_message
            ahead = sent / rate - (time.perf_counter() - start)
            if ahead > 0:
                time.sleep(ahead)
        round_index += 1
    client.disconnect()
    client.loop_stop()


def soak(url: str, sites, workers: int, rate: float, seconds: float, *, root: str) -> None:  # type: ignore[no-untyped-def]
    """Full rate for ``seconds``: is RSS bounded, does ingest keep up? One line every 30 s."""
    supervisor, ports = start_workers(url, workers, root)
    publisher = mp.Process(target=publish_at_rate, args=(sites, root, rate, seconds, MQTT_URL))
    start = time.perf_counter()
    publisher.start()
    rss: list[float] = []
    last_report = start
    while publisher.is_alive():
        time.sleep(1.0)
        rss.append(workers_rss_mb(supervisor, workers))
        if time.perf_counter() - last_report >= 30:
            last_report = time.perf_counter()
            metrics = scrape(ports)
            stored = metrics.get("carbonledger_ingest_readings_stored_total", 0.0)
            print(
                f"  {last_report - start:6.0f} s  stored {stored:>12,.0f}"
                f"  ({stored / (last_report - start):,.0f}/s)  RSS {rss[-1]:.0f} MB"
                f"  queue {metrics.get('carbonledger_ingest_queue_depth', 0):.0f}",
                flush=True,
            )
    elapsed = time.perf_counter() - start
    time.sleep(5)  # let the last messages commit
    metrics = scrape(ports)
    stored = metrics.get("carbonledger_ingest_readings_stored_total", 0.0)
    latency = "carbonledger_ingest_sent_to_commit_seconds"
    supervisor.terminate()
    supervisor.wait(60)
    print(
        json.dumps(
            {
                "soak_seconds": round(elapsed),
                "soak_target_readings_per_s": rate,
                "soak_stored_readings_per_s": round(stored / elapsed),
                "soak_p50_latency_ms": round(quantile(metrics, latency, 0.50) * 1000, 1),
                "soak_p99_latency_ms": round(quantile(metrics, latency, 0.99) * 1000, 1),
                "soak_rss_first_minute_mb": round(max(rss[:60]), 1),
                "soak_rss_peak_mb": round(max(rss), 1),
                "soak_rss_last_minute_mb": round(max(rss[-60:]), 1),
                "workers": workers,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, default=2_000_000)
    parser.add_argument("--gateways", type=int, default=100)
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    parser.add_argument("--baseline-seconds", type=float, default=10.0)
    parser.add_argument("--timescaledb", choices=["auto", "on", "off"], default="off")
    parser.add_argument("--soak", type=float, default=0, help="seconds at --rate instead")
    parser.add_argument("--rate", type=float, default=100_000, help="soak readings/s")
    args = parser.parse_args()

    global MQTT_URL  # noqa: PLW0603 - set once, before any worker starts
    broker = None
    if not MQTT_URL:
        broker = MosquittoBroker(Path(tempfile.mkdtemp(prefix="clbench-broker-")))
        MQTT_URL = broker.start()
    name = f"clbench_ingest_{os.getpid()}"
    url = create_database(name, replace=True)
    report = migrate(url, timescaledb=args.timescaledb)
    storage = "timescaledb" if report.timescaledb else "plain"
    try:
        sites = register(url, args.gateways)
        root = f"bench-{uuid.uuid4().hex[:6]}"
        if args.soak:
            workers = max(int(w) for w in args.workers.split(","))
            soak(url, sites, workers, args.rate, args.soak, root=root)
            return
        messages = payloads(sites, args.readings, root)
        total = sum(n for _, _, n in messages)
        print(f"storage {storage}; {total:,} readings in {len(messages):,} messages")
        copy_rate = copy_limit(url, total)
        print(f"(a) COPY limit            {copy_rate:>12,.0f} rows/s")
        naive = baseline(url, messages, args.baseline_seconds, root)
        print(f"(b) naive baseline        {naive:>12,.0f} readings/s")
        results = {}
        for workers in (int(w) for w in args.workers.split(",")):
            r = run_ingest(url, messages, workers, root)
            results[workers] = r
            print(
                f"(c) ingest, {workers} worker(s)    {r['readings_per_s']:>12,.0f} readings/s"
                f"  p50 {r['p50_ms']:.0f} ms  p99 {r['p99_ms']:.0f} ms"
                f"  peak RSS {r['peak_rss_mb']:.0f} MB"
                f"  = {r['readings_per_s'] / copy_rate:.2f}x COPY,"
                f" {r['readings_per_s'] / naive:.0f}x naive"
            )
        best_workers = max(results, key=lambda w: results[w]["readings_per_s"])
        best = results[best_workers]
        print(
            json.dumps(
                {
                    "ingest_readings_per_s": round(best["readings_per_s"]),
                    "baseline_readings_per_s": round(naive),
                    "copy_limit_rows_per_s": round(copy_rate),
                    "p99_latency_ms": round(best["p99_ms"], 1),
                    "workers": best_workers,
                    "peak_rss_mb": round(best["peak_rss_mb"], 1),
                    "storage": storage,
                    "readings": total,
                }
            )
        )
    finally:
        drop_database(name)
        if broker is not None:
            broker.stop()


if __name__ == "__main__":
    main()
