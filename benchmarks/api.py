"""Benchmark: the account endpoint under concurrent load, against /healthz on the same server.

    .venv/bin/python benchmarks/api.py                       # 1,000 req/s for 10 s, then max
    .venv/bin/python benchmarks/api.py --rate 500 --seconds 5 --workers 1

A scratch database gets ``--enterprises`` enterprises with a month of rollups, their live
accounts stored by the ledger (``refresh_live``), a bank key with consent for all of them, and
``carbonledger api`` serves it (``--workers`` uvicorn processes). The load generator runs in
another process (this file with ``--generate``): keep-alive HTTP/1.1 connections on asyncio,
open loop at a fixed rate (each connection sends at its share of the schedule; latency counts
from the scheduled time, so a stall is not hidden) or closed loop as fast as the connections go
(max). Each phase is run for /healthz
(the baseline: routing only) and for ``GET /v1/enterprises/{code}/account?period=mtd`` as the
bank (key lookup, consent check, audit log commit, version stamp, cached body). The last line
is one JSON object with ``account_rps`` (max) and ``account_p99_ms`` (at the fixed rate).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
from psycopg import sql

ADMIN_URL = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


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
    url: str, paths: list[str], key: str, rate: float, *, seconds: float, connections: int
) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--generate", "--url", url, "--paths", ",".join(paths),
         "--key", key, "--rate", str(rate), "--seconds", str(seconds),
         "--connections", str(connections)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


# --- the server and its data --------------------------------------------------------------------


def _db_url(name: str) -> str:
    return urlunsplit(urlsplit(ADMIN_URL)._replace(path=f"/{name}"))


def prepare(url: str, enterprises: int) -> tuple[str, list[str]]:
    """Registry, a month of rollups, stored live accounts, a bank key and its consents."""
    from accounts.api import Role, Scope, create_key, grant_consent  # noqa: PLC0415
    from accounts.ledger import load_factors, refresh_live  # noqa: PLC0415 - after sys.path is set
    from carbonledger.db import migrate  # noqa: PLC0415
    from carbonledger.uscc import make_code  # noqa: PLC0415

    migrate(url, timescaledb="off")
    codes = [make_code(f"91331102MA2B{i:05d}") for i in range(enterprises)]
    now = datetime.now(UTC)
    month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0) - timedelta(hours=8)
    with psycopg.connect(url) as conn:
        load_factors(conn)
        for i, code in enumerate(codes):
            conn.execute(
                "INSERT INTO enterprises (code, name, industry_code, district)"
                " VALUES (%s, %s, %s, %s)",
                (code, f"企业{i}", "3011" if i % 2 else "1713", "莲都区"),
            )
            conn.execute(
                "INSERT INTO gateways (id, enterprise_code) VALUES (%s, %s)", (f"gw{i}", code)
            )
            for carrier, quantity, unit in (("electricity", "energy_import", "kWh"),
                                            ("natural_gas", "gas_volume", "Nm3")):  # fmt: skip
                conn.execute(
                    "INSERT INTO meters (id, enterprise_code, gateway_id, carrier, quantity, unit)"
                    " VALUES (%s, %s, %s, %s, %s, %s)",
                    (f"m{i}-{carrier}", code, f"gw{i}", carrier, quantity, unit),
                )
            conn.execute(
                "INSERT INTO economic_data (enterprise_code, period_kind, period_start,"
                " value_added) VALUES (%s, 'month', %s, %s)",
                (code, (now + timedelta(hours=8)).date().replace(day=1), 100 + i),
            )
        conn.execute(
            "INSERT INTO rollups_15m (bucket, enterprise_code, meter_id, quantity, activity_fp,"
            " covered_ms, estimated_ms)"
            " SELECT b, m.enterprise_code, m.id, m.quantity,"
            " 250000 + (extract(epoch FROM b)::bigint %% 977), 900000, 0 FROM meters m,"
            " generate_series(%s::timestamptz, %s::timestamptz - interval '15 min',"
            " interval '15 min') b",
            (month, now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0)),
        )
        refresh_live(conn, codes=codes)

    async def keys() -> str:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            key = await create_key(conn, Role.BANK, "bench", bank_id="bench-bank", rate_per_s=1e6,
                                   burst=1_000_000)  # fmt: skip
            for code in codes:
                await grant_consent(conn, code, "bench-bank", [Scope.ACCOUNT],
                                    now + timedelta(days=1), by="bench")  # fmt: skip
            return key.key

    return asyncio.run(keys()), codes


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--generate", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--paths", help=argparse.SUPPRESS)
    parser.add_argument("--key", default="", help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, default=1000.0, help="fixed-rate phase, req/s")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each phase")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--enterprises", type=int, default=20)
    parser.add_argument("--port", type=int, default=18080)
    args = parser.parse_args()
    if args.generate:
        _generator_main(args)
        return

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    name = f"clbench_api_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = _db_url(name)
    server = None
    try:
        print(f"preparing {args.enterprises} enterprises with a month of rollups …", flush=True)
        key, codes = prepare(url, args.enterprises)
        env = {**os.environ, "DATABASE_URL": url, "CARBONLEDGER_LOG_LEVEL": "WARNING"}
        server = subprocess.Popen(
            [sys.executable, "-m", "launcher", "api", "--port", str(args.port),
             "--workers", str(args.workers), "--no-watch"],
            env=env,
        )  # fmt: skip
        base = f"http://127.0.0.1:{args.port}"
        for _ in range(300):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            time.sleep(0.1)
        account = [f"/v1/enterprises/{c}/account?period=mtd" for c in codes]
        probe = httpx.get(base + account[0], headers={"Authorization": f"Bearer {key}"})
        assert probe.status_code == 200, probe.text
        print(
            f"account body {len(probe.content):,} bytes; {args.workers} workers;"
            f" {args.connections} connections; {args.seconds:.0f} s per phase",
            flush=True,
        )
        run_phase(
            base, account, key, 0, seconds=2, connections=args.connections
        )  # warm-up: caches, prepared plans
        results: dict[str, dict[str, Any]] = {}
        for label, paths in (("healthz", ["/healthz"]), ("account", account)):
            for mode, rate in (("rate", args.rate), ("max", 0.0)):
                r = run_phase(
                    base, paths, key, rate, seconds=args.seconds, connections=args.connections
                )
                results[f"{label}_{mode}"] = r
                target = f"{rate:,.0f} req/s" if rate else "max"
                print(f"{label:<8} {target:>12}: {r['rps']:8,.0f} req/s  p50 {r['p50_ms']:6.2f} ms"
                      f"  p99 {r['p99_ms']:7.2f} ms  max {r['max_ms']:7.1f} ms"
                      f"  errors {r['errors']}", flush=True)  # fmt: skip
        ratio = results["account_max"]["rps"] / results["healthz_max"]["rps"]
        print(f"account / healthz at max: {ratio:.2f}")
        print(json.dumps({
            "account_rps": round(results["account_max"]["rps"]),
            "account_p99_ms": round(results["account_rate"]["p99_ms"], 2),
            "account_p50_ms": round(results["account_rate"]["p50_ms"], 2),
            "account_rate_rps": round(results["account_rate"]["rps"]),
            "target_rps": args.rate,
            "healthz_rps": round(results["healthz_max"]["rps"]),
            "healthz_p99_ms": round(results["healthz_rate"]["p99_ms"], 2),
            "ratio_vs_healthz": round(ratio, 3),
            "workers": args.workers,
        }))  # fmt: skip
    finally:
        if server is not None:
            server.terminate()
            server.wait(20)
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


if __name__ == "__main__":
    main()
