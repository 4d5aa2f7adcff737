"""Benchmark: the account endpoint at a fixed rate over every enterprise of a simulated province,
a baseline git ref's API against this checkout's on the same database.

    .venv/bin/python benchmarks/api.py                                   # 50,000 enterprises
    .venv/bin/python benchmarks/api.py --database clbench_api_keep       # fill once, reuse after
    .venv/bin/python benchmarks/api.py --enterprises 2000 --seconds 10 --baseline none

The database gets the province of ``simulate register --enterprises N --region zhejiang`` (the
simulator's registry and economic data), the day before today of its rollup history written
directly (``analytics.history``, COPY, as ``benchmarks/province.py`` does), the live accounts and
grades stored by the ledger (``refresh_live``), and a bank with consent for every enterprise.
With ``--database NAME`` that database is kept and reused when it already holds N enterprises
(a province took 20 minutes to fill, and 4 more for the consents, on the shared 2-core
machine).

Then, ``--rounds`` times, for the baseline (``git archive`` of ``--baseline``, default main; its
packages first on the server's path) and for this checkout in turn: ``carbonledger api`` with
``--workers`` uvicorn processes starts on an empty body cache, a few account bodies are compared
byte for byte between the two, and the load generator (this file with ``--generate``, its own
process) requests ``GET /v1/enterprises/{code}/account?period=mtd`` as the bank over every
enterprise in a shuffled order: keep-alive HTTP/1.1 connections on asyncio, open loop at
``--rate`` (request k of a connection is due at a fixed time and its latency counts from then,
so a stall is not hidden). So nearly every request misses the per-worker body cache, as a
province's banks would. The CPU the API workers and the database's backends spent per request
is read from ``/proc`` (psutil), and so is what the rest of the machine did meanwhile
(``other_cores``: busy CPU outside the API, the backends and the generator; the machine is
shared), with the autovacuum workers and checkpoints seen during the phase. The last line is
one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psutil
import psycopg
from _common import (
    ROOT,
    baseline_tree,
    create_database,
    database_exists,
    database_url,
    drop_database,
)

sys.path.insert(0, str(ROOT))

SEED = 2026
REGION = "zhejiang"
BANK = "bench-bank"
ACCOUNT_CHUNK = 5_000  # enterprises per refresh_live: a province at once holds gigabytes


# --- the load generator (its own process) -------------------------------------------------------


async def _connection(host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(host, port)


async def _request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes) -> int:
    writer.write(raw)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if length:
        await reader.readexactly(length)
    return status


async def generate(
    url: str, paths: list[str], key: str, rate: float, *, seconds: float, connections: int
) -> dict[str, Any]:
    """rate > 0: open loop at that rate; rate == 0: closed loop (max)."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    raws = [
        (f"GET {p} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n\r\n").encode()
        for p in paths
    ]
    latencies: list[float] = []
    errors = 0
    cpu = time.process_time()
    began = time.perf_counter() + 0.2  # every connection is open by then
    deadline = began + seconds

    async def worker(index: int) -> None:
        """Open loop: request k of this connection is due at began + (index + k * n) / rate, and
        its latency counts from then (a late send is not forgiven)."""
        nonlocal errors
        reader, writer = await _connection(host, port)
        n = index
        while True:
            scheduled = began + n / rate if rate else max(began, time.perf_counter())
            if scheduled >= deadline:
                break
            if (wait := scheduled - time.perf_counter()) > 0:
                await asyncio.sleep(wait)
            status = await _request(reader, writer, raws[n % len(raws)])
            n += connections
            latencies.append(time.perf_counter() - scheduled)
            if status != 200:
                errors += 1
        writer.close()

    await asyncio.gather(*(worker(i) for i in range(connections)))
    took = time.perf_counter() - began
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    return {
        "requests": len(latencies),
        "rps": len(latencies) / took,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "max_ms": latencies[-1] * 1000,
        "mean_ms": statistics.fmean(latencies) * 1000,
        "errors": errors,
        "generator_cpu_s": time.process_time() - cpu,
        "seconds": took,
    }


def _paths(text: str) -> list[str]:
    """Comma-separated paths, or ``@FILE`` with one path a line (50,000 do not fit in argv)."""
    if text.startswith("@"):
        with open(text[1:], encoding="utf-8") as f:
            return [line.strip() for line in f if line.strip()]
    return text.split(",")


def _generator_main(args: argparse.Namespace) -> None:
    try:
        import uvloop  # noqa: PLC0415 - optional speed-up of the generator itself

        uvloop.install()
    except ImportError:
        pass
    result = asyncio.run(
        generate(
            args.url,
            _paths(args.paths),
            args.key,
            args.rate,
            seconds=args.seconds,
            connections=args.connections,
        )
    )
    print(json.dumps(result))


def run_phase(
    url: str, paths: str, key: str, rate: float, *, seconds: float, connections: int
) -> dict[str, Any]:
    """The generator in its own process (``paths``: ``@FILE``, one path a line)."""
    out = subprocess.run(
        [sys.executable, __file__, "--generate", "--url", url, "--paths", paths, "--key", key,
         "--rate", str(rate), "--seconds", str(seconds), "--connections", str(connections)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


# --- the province and its accounts --------------------------------------------------------------


def _codes(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [r[0].strip() for r in conn.execute("SELECT code FROM enterprises ORDER BY code")]


def _analyze(url: str) -> None:
    """Statistics after a bulk load, as an operator runs them (docs/scale.md)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE")


def prepare(url: str, enterprises: int) -> None:
    """The province's registry, yesterday's rollups, its stored live accounts and grades."""
    from accounts.ledger import load_factors, refresh_live  # noqa: PLC0415 - after sys.path is set
    from carbonledger.db import migrate  # noqa: PLC0415
    from carbonledger.tz import SHANGHAI  # noqa: PLC0415
    from simulator.city import build_city  # noqa: PLC0415
    from simulator.history import write_city_history  # noqa: PLC0415
    from simulator.registry import register_city, register_economics  # noqa: PLC0415

    migrate(url, timescaledb="off")
    began, today = time.perf_counter(), datetime.now(SHANGHAI).date()
    city = build_city(enterprises, SEED, REGION)
    with psycopg.connect(url) as conn:
        load_factors(conn)
        register_city(conn, city)
        register_economics(conn, city, today)
        conn.commit()
        rows = write_city_history(conn, city, today - timedelta(days=1), today).rows
    print(f"   registry and {rows:,} rollup rows: {time.perf_counter() - began:.0f} s", flush=True)
    _analyze(url)
    codes = [e.code for e in city.enterprises]
    with psycopg.connect(url) as conn:
        for i in range(0, len(codes), ACCOUNT_CHUNK):  # bounded memory; grades once, at the end
            last = i + ACCOUNT_CHUNK >= len(codes)
            refresh_live(conn, codes=codes[i : i + ACCOUNT_CHUNK], regrade=last)
            print(f"   accounts of {min(len(codes), i + ACCOUNT_CHUNK):,} enterprises:"
                  f" {time.perf_counter() - began:.0f} s", flush=True)  # fmt: skip
    _analyze(url)


async def bank_key(url: str, codes: list[str]) -> str:
    """A new key of the bench bank, and its consent for every enterprise not consented yet."""
    from accounts.api import Role, Scope, create_key, grant_consent  # noqa: PLC0415

    expires = datetime.now(UTC) + timedelta(days=30)
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        key = await create_key(conn, Role.BANK, "bench", bank_id=BANK, rate_per_s=1e6,
                               burst=1_000_000)  # fmt: skip
        cur = await conn.execute(
            "SELECT enterprise_code FROM consents WHERE bank_id = %s AND revoked_at IS NULL"
            " AND expires_at > now() + interval '1 day'",
            (BANK,),
        )
        consented = {r[0].strip() for r in await cur.fetchall()}
    missing = [c for c in codes if c not in consented]

    async def grant(part: list[str]) -> None:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            for code in part:
                await grant_consent(conn, code, BANK, [Scope.ACCOUNT], expires, by="bench")

    await asyncio.gather(*(grant(missing[i::4]) for i in range(4)))
    if missing:  # the planner must know one bank has consents for every enterprise
        _analyze(url)
    return key.key


# --- the servers ----------------------------------------------------------------------------------


@contextlib.contextmanager
def serving(url: str, tree: Path, port: int, workers: int) -> Iterator[psutil.Process]:
    """``carbonledger api`` of the code in ``tree``, until the block ends."""
    env = {**os.environ, "DATABASE_URL": url, "CARBONLEDGER_LOG_LEVEL": "WARNING",
           "PYTHONPATH": str(tree)}  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, "-m", "launcher", "api", "--port", str(port), "--workers", str(workers),
         "--no-watch"],
        env=env, cwd=tree,
    )  # fmt: skip
    try:
        wait_healthy(f"http://127.0.0.1:{port}")
        yield psutil.Process(server.pid)
    finally:
        server.terminate()
        server.wait(30)


def wait_healthy(base: str) -> None:
    """Until the API at ``base`` answers /healthz, for about a minute at most (a server that
    never answers then fails the requests that follow, which say why)."""
    for _ in range(600):
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        time.sleep(0.1)


def _cpu_s(processes: list[psutil.Process]) -> float:
    total = 0.0
    for p in processes:
        with contextlib.suppress(psutil.Error):
            t = p.cpu_times()
            total += t.user + t.system
    return total


def _backends(url: str) -> list[psutil.Process]:
    """The database's server processes of this database's connections (the API's pools)."""
    with psycopg.connect(url) as conn:
        pids = [r[0] for r in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid()")]  # fmt: skip
    return [psutil.Process(pid) for pid in pids if psutil.pid_exists(pid)]


_AUTOVACUUM = """
SELECT query FROM pg_stat_activity
WHERE backend_type = 'autovacuum worker' AND datname = current_database() AND query <> ''
"""
_CHECKPOINTS = (
    "SELECT checkpoints_timed + checkpoints_req, buffers_checkpoint FROM pg_stat_bgwriter"
)


@contextlib.contextmanager
def maintenance_watch(url: str, every_s: float = 0.5) -> Iterator[dict[str, Any]]:
    """What the server's own maintenance did while the block ran: the autovacuum workers seen
    on this database (sampled every ``every_s``), checkpoints started and buffers they wrote."""
    seen: dict[str, Any] = {"autovacuum": []}
    done = threading.Event()

    def sample() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            while not done.wait(every_s):
                for (query,) in conn.execute(_AUTOVACUUM).fetchall():
                    if query not in seen["autovacuum"]:
                        seen["autovacuum"].append(query)

    with psycopg.connect(url, autocommit=True) as conn:
        before = conn.execute(_CHECKPOINTS).fetchone()
        watcher = threading.Thread(target=sample, daemon=True)
        watcher.start()
        try:
            yield seen
        finally:
            done.set()
            watcher.join()
            after = conn.execute(_CHECKPOINTS).fetchone()
    if before and after:
        seen["checkpoints"] = after[0] - before[0]
        seen["checkpoint_buffers"] = after[1] - before[1]


def measure(url: str, server: psutil.Process, tmp: str, key: str,
            args: argparse.Namespace) -> dict[str, Any]:  # fmt: skip
    """A warm-up (on other enterprises: the phase finds none of its accounts cached), then the
    phase at the rate, with the CPU of the workers and backends."""
    base, paths = f"http://127.0.0.1:{args.port}", f"@{tmp}/paths"
    run_phase(base, f"@{tmp}/warm", key, args.rate, seconds=3, connections=args.connections)
    workers, backends = [server, *server.children(recursive=True)], _backends(url)
    api_cpu, db_cpu, busy = _cpu_s(workers), _cpu_s(backends), _busy_s()
    with maintenance_watch(url) as maintenance:
        r = run_phase(
            base, paths, key, args.rate, seconds=args.seconds, connections=args.connections
        )
    r["maintenance"] = maintenance
    api_cpu, db_cpu, busy = _cpu_s(workers) - api_cpu, _cpu_s(backends) - db_cpu, _busy_s() - busy
    r["api_cpu_ms"] = api_cpu * 1000 / r["requests"]
    r["db_cpu_ms"] = db_cpu * 1000 / r["requests"]
    # the machine's other work meanwhile (other users, the server's own processes), in cores
    r["other_cores"] = (busy - api_cpu - db_cpu - r["generator_cpu_s"]) / r["seconds"]
    return r


def _busy_s() -> float:
    """CPU seconds the whole machine spent busy (every core, not idle nor waiting on I/O)."""
    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0) - getattr(t, "guest", 0.0)


def bodies(port: int, key: str, codes: list[str]) -> list[bytes]:
    headers = {"Authorization": f"Bearer {key}"}
    out = []
    for code in codes:
        response = httpx.get(f"http://127.0.0.1:{port}/v1/enterprises/{code}/account?period=mtd",
                             headers=headers)  # fmt: skip
        if response.status_code != 200:
            raise SystemExit(f"{code}: {response.status_code} {response.text}")
        out.append(response.content)
    return out


def compare(
    url: str, codes: list[str], args: argparse.Namespace
) -> dict[str, list[dict[str, Any]]]:
    """The rounds of the baseline's server and this checkout's, alternately, on ``url``."""
    key = asyncio.run(bank_key(url, codes))
    paths = [f"/v1/enterprises/{c}/account?period=mtd" for c in codes]
    random.Random(SEED).shuffle(paths)
    sample = random.Random(SEED).sample(codes, 20)
    with tempfile.TemporaryDirectory(prefix="clbench-api-") as tmp:
        with open(f"{tmp}/paths", "w", encoding="utf-8") as f:
            f.write("\n".join(paths))
        with open(f"{tmp}/warm", "w", encoding="utf-8") as f:
            f.write("\n".join(reversed(paths)))
        sides = {"new": ROOT}
        if args.baseline != "none":
            sides = {"base": baseline_tree(args.baseline, Path(tmp) / "base"), **sides}
        runs: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
        seen: dict[str, list[bytes]] = {}
        print(f"{len(codes):,} enterprises, {args.workers} workers, {args.connections}"
              f" connections, {args.rate:,.0f} req/s for {args.seconds:.0f} s;"
              f" load average {os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip
        for round_ in range(args.rounds):
            for side, tree in sides.items():
                with serving(url, tree, args.port, args.workers) as server:
                    seen[side] = bodies(args.port, key, sample)
                    r = measure(url, server, tmp, key, args)
                runs[side].append(r)
                print(f"round {round_ + 1} {side:<4}: {r['rps']:6,.0f} req/s  p50"
                      f" {r['p50_ms']:7.2f} ms  p99 {r['p99_ms']:7.2f} ms  max"
                      f" {r['max_ms']:7.1f} ms  errors {r['errors']}  CPU/request: API"
                      f" {r['api_cpu_ms']:.2f} ms, database {r['db_cpu_ms']:.2f} ms;"
                      f" other work {r['other_cores']:.2f} cores; during it: autovacuum"
                      f" {r['maintenance']['autovacuum'] or 'none'}, checkpoints"
                      f" {r['maintenance'].get('checkpoints')}", flush=True)  # fmt: skip
        if "base" in seen and seen["base"] != seen["new"]:
            raise SystemExit("the account bodies differ from the baseline's")
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--generate", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--paths", help=argparse.SUPPRESS)
    parser.add_argument("--key", default="", help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, default=1000.0, help="req/s (open loop)")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each phase")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--enterprises", type=int, default=50_000)
    parser.add_argument("--database", help="keep this database, and reuse it if already filled")
    parser.add_argument("--baseline", default="main", help="git ref of the baseline, or none")
    parser.add_argument("--rounds", type=int, default=2, help="baseline/new alternations")
    parser.add_argument("--port", type=int, default=18080)
    args = parser.parse_args()
    if args.generate:
        _generator_main(args)
        return

    name = args.database or f"clbench_api_{uuid.uuid4().hex[:8]}"
    created = not database_exists(name)
    url = create_database(name) if created else database_url(name)
    try:
        if created or len(_codes(url)) != args.enterprises:
            if not created:
                raise SystemExit(f"{name} holds another number of enterprises: drop it first")
            print(f"preparing {args.enterprises:,} enterprises in {name} …", flush=True)
            prepare(url, args.enterprises)
        codes = _codes(url)
        runs = compare(url, codes, args)
    finally:
        if not args.database:
            drop_database(name)
    report(runs, args, len(codes))


def report(runs: dict[str, list[dict[str, Any]]], args: argparse.Namespace, n: int) -> None:
    """The best round of each side (the least disturbed by the machine's other work)."""
    best = {side: min(rs, key=lambda r: r["p99_ms"]) for side, rs in runs.items()}
    out: dict[str, Any] = {"enterprises": n, "target_rps": args.rate, "workers": args.workers,
                           "connections": args.connections, "seconds": args.seconds}  # fmt: skip
    for side, r in best.items():
        prefix = "" if side == "new" else "base_"
        out |= {
            f"{prefix}account_p99_ms": round(r["p99_ms"], 2),
            f"{prefix}account_p50_ms": round(r["p50_ms"], 2),
            f"{prefix}account_rps": round(r["rps"]),
            f"{prefix}errors": r["errors"],
            f"{prefix}api_cpu_ms": round(r["api_cpu_ms"], 3),
            f"{prefix}db_cpu_ms": round(r["db_cpu_ms"], 3),
            f"{prefix}concurrent_autovacuum": r["maintenance"]["autovacuum"],
            f"{prefix}checkpoints": r["maintenance"].get("checkpoints"),
            f"{prefix}other_cores": round(r["other_cores"], 2),
        }
    if "base" in best:
        out["p99_ratio"] = round(best["base"]["p99_ms"] / best["new"]["p99_ms"], 2)
        print(f"p99 baseline {out['base_account_p99_ms']} ms, new {out['account_p99_ms']} ms:"
              f" {out['p99_ratio']}x")  # fmt: skip
    out["load_average"] = round(os.getloadavg()[0], 1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
