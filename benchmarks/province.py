"""Benchmark: a province on one machine (issue 15), one command, one table, one JSON line.

    .venv/bin/python benchmarks/province.py                       # 50,000 enterprises
    .venv/bin/python benchmarks/province.py --enterprises 2000 --days 1 --stream-seconds 60

A scratch database (dropped at the end unless ``--keep``) gets the simulated Zhejiang province
(``simulate register --region zhejiang``: the city's industry mix and meters per enterprise) and
its 15-minute rollups of the ``--days`` days before today, written directly
(``simulate history``'s writer, COPY). Then, each phase through the platform's own entry points:

- ``accounts_cycle_s``: ``LiveAccounts.cycle`` with every enterprise changed (no aggregator
  watermark yet, so every cycle refreshes every enterprise; the first one fills the caches of
  past months and is reported as ``accounts_first_cycle_s``);
- ``regrade_s``: the month-to-date grades of every enterprise recomputed from stored accounts;
- ``api_account_p99_ms``: ``GET /v1/enterprises/{code}/account?period=mtd`` as a bank with
  consent for every enterprise, open loop at ``--rate`` req/s over all of them in random order,
  latency from the scheduled send (``benchmarks/api.py``'s generator, its CPU reported);
- ``account_freshness_p99_s``: ``aggregate run`` and ``accounts run`` as their own processes
  while every register meter reads every 15 minutes (``province_stream.py``, through ingest's
  batch writer); reading committed -> its enterprise's month-to-date account reflecting it;
- a sample database (``--sample`` enterprises, same days, plus ``--year-sample`` of them with a
  whole closed year): the cycle of ``main``'s code (``git archive``, the baseline, in its own
  process) against this checkout's on the same data, printing the ratio; ``year_recompute_s``
  is the sample's year recompute scaled linearly to the province (a year of a province's
  rollups is about 5 billion rows: it does not fit this disk).

Peak RSS is sampled every 0.5 s for each service process and read for this process (which
runs the cycle, regrade and recompute in-process). Figures on a shared 2-core machine are noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import psutil
import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import province_stream as feed

from accounts.ledger import Period, close, load_factors, recompute
from accounts.ledger.service import LiveAccounts
from analytics._months import seal
from carbonledger.config import AccountsSettings
from carbonledger.db import migrate
from carbonledger.tz import SHANGHAI
from simulator.city import City, build_city
from simulator.history import series_of, write_city_history, write_city_month_sums
from simulator.registry import register_city, register_economics

ADMIN_URL = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
SEED = 2026
REGION = "zhejiang"
QUIET = {
    "CARBONLEDGER_LOG_LEVEL": "WARNING",
    "CARBONLEDGER_AGGREGATE__METRICS_PORT": "0",
    "CARBONLEDGER_ACCOUNTS__METRICS_PORT": "0",
    "CARBONLEDGER_INGEST__METRICS_PORT": "0",
}


# --- databases and processes ----------------------------------------------------------------------


def _url(name: str) -> str:
    return urlunsplit(urlsplit(ADMIN_URL)._replace(path=f"/{name}"))


@contextlib.contextmanager
def scratch(prefix: str, keep: bool) -> Iterator[str]:
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        migrate(_url(name), timescaledb="auto")
        yield _url(name)
    finally:
        if keep:
            print(f"kept database {name}")
        else:
            with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )


@dataclass
class Rss:
    """Peak resident memory of named processes (each with its children), sampled every 0.5 s."""

    peaks: dict[str, float] = field(default_factory=dict)
    _watched: dict[str, psutil.Process] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)

    def watch(self, name: str, pid: int) -> None:
        self._watched[name] = psutil.Process(pid)
        threading.Thread(target=self._sample, args=(name,), daemon=True).start()

    def _sample(self, name: str) -> None:
        process = self._watched[name]
        while not self._stop.is_set():
            try:
                rss = sum(p.memory_info().rss for p in [process, *process.children(True)])
            except psutil.Error:
                return
            self.peaks[name] = max(self.peaks.get(name, 0.0), rss / 2**20)
            time.sleep(0.5)

    def self_peak(self) -> None:
        self.peaks["benchmark (cycle, regrade, recompute)"] = (
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        )


def service(args: list[str], url: str, rss: Rss, name: str, **env: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "launcher", *args],
        env={**os.environ, **QUIET, "DATABASE_URL": url, **env},
        cwd=ROOT,
    )
    rss.watch(name, proc.pid)
    return proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def phase(label: str, into: dict[str, float]) -> Iterator[None]:
    print(f"-- {label} …", flush=True)
    began = time.perf_counter()
    yield
    into[label] = time.perf_counter() - began
    print(f"   {label}: {into[label]:.1f} s", flush=True)


# --- the province ---------------------------------------------------------------------------------


def populate(url: str, city: City, first: date, end: date, year: list[str] | None = None) -> int:
    """Registry, economic data, the rollups of ``first``..``end``; with ``year``, those
    enterprises' series also get the whole previous year."""
    with psycopg.connect(url) as conn:
        load_factors(conn)
        register_city(conn, city)
        register_economics(conn, city, end)
        conn.commit()
        began = time.monotonic()

        def progress(day: date, rows: int) -> None:
            print(f"   history {day}: {rows:,} rows, "
                  f"{rows / (time.monotonic() - began):,.0f} rows/s", flush=True)  # fmt: skip

        rows = write_city_history(conn, city, first, end, progress=progress).rows
        if year:
            chosen = [s for s in series_of(city) if s.enterprise_code in set(year)]
            last = date(end.year - 1, 1, 1)
            rows += write_city_history(conn, city, last, date(end.year, 1, 1), series=chosen,
                                       progress=progress).rows  # fmt: skip
    analyze(url)
    return rows


def analyze(url: str) -> None:
    """Statistics after a bulk load, as an operator runs after an import: autovacuum comes
    later, and until then the planner sees empty tables (docs/scale.md)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE")


def cycles(url: str, now: datetime, count: int) -> list[float]:
    """Wall time of ``count`` live-account cycles, each refreshing every enterprise."""
    service_ = LiveAccounts(url, AccountsSettings())
    timings = []
    with psycopg.connect(url) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        for i in range(count):
            began = time.perf_counter()
            outcome = service_.cycle(conn, now + timedelta(seconds=i))
            timings.append(time.perf_counter() - began)
            print(f"   cycle {i + 1}: {outcome.refreshed:,} enterprises in {timings[-1]:.1f} s",
                  flush=True)  # fmt: skip
    return timings


def regrade(url: str, now: datetime) -> float:
    """Grades of every stored account of the live periods (month to date, rolling 12 months,
    year), recomputed from the stored accounts: what a cycle does last, for every enterprise."""
    from accounts.ledger import _store  # noqa: PLC0415 - the ledger's regrade is not public

    with psycopg.connect(url) as conn:
        began = time.perf_counter()
        with conn.transaction():
            for period in _store.live_periods(now):
                _store._regrade(conn, period, AccountsSettings())
        return time.perf_counter() - began


def year_recompute(url: str, codes: list[str], now: datetime) -> dict[str, float]:
    """The sample's closed year (``codes`` have its 15-minute rollups): closed, recomputed from
    the rollups (the baseline), then its months sealed (their sums stored) and recomputed from
    the sums, which must leave every closed account as it is (no new version)."""
    year = Period.parse(str(now.year - 1), now)
    with psycopg.connect(url, autocommit=True) as conn:
        close(conn, year, codes=codes, now=now)
        began = time.perf_counter()
        recompute(conn, year, "benchmark", codes=codes, now=now)
        buckets = time.perf_counter() - began
        began = time.perf_counter()
        seal(conn, year.end)
        sealing = time.perf_counter() - began
        began = time.perf_counter()
        done = recompute(conn, year, "benchmark", codes=codes, now=now)
        sums = time.perf_counter() - began
    changed = [r.code for r in done if r.new_version is not None]
    if changed or len(done) != len(codes):
        raise SystemExit(f"the year from month sums differs from the rollups' for {changed[:5]}")
    return {
        "year_recompute_sample_buckets_s": round(buckets, 2),
        "year_seal_sample_s": round(sealing, 2),
        "year_recompute_sample_s": round(sums, 2),
    }


def year_recompute_province(url: str, city: City, now: datetime) -> dict[str, float]:
    """Every enterprise's closed year, measured whole rather than scaled: the year's month sums
    written directly (``write_city_month_sums``, each month its 15th day's activity times its
    days, without buckets: a province's year of buckets is 5 billion rows, beyond this disk),
    the year closed (read, compute and write every account) and recomputed (read and compute;
    accounts equal to the closed ones write nothing)."""
    year = Period.parse(str(now.year - 1), now)
    with psycopg.connect(url, autocommit=True) as conn:
        began = time.perf_counter()
        rows = write_city_month_sums(conn, city, year.start, year.end)
        conn.execute("ANALYZE rollup_months")
        writing = time.perf_counter() - began
        began = time.perf_counter()
        closed = close(conn, year, now=now)
        closing = time.perf_counter() - began
        began = time.perf_counter()
        recompute(conn, year, "benchmark", now=now)
        took = time.perf_counter() - began
    return {
        "year_month_sum_rows": rows,
        "year_sums_write_s": round(writing, 1),
        "year_accounts": len(closed),
        "year_close_s": round(closing, 1),
        "year_close_ms_per_enterprise": round(closing * 1000 / max(1, len(closed)), 2),
        "year_recompute_s": round(took, 1),
    }


# --- the baseline: main's code, in its own process ------------------------------------------------

_BASELINE = """
import json, sys, time
from datetime import datetime
sys.path.insert(0, sys.argv[1])
import psycopg
from accounts.ledger.service import LiveAccounts
from carbonledger.config import AccountsSettings
import accounts.ledger.service as s
assert s.__file__.startswith(sys.argv[1]), s.__file__
now = datetime.fromisoformat(sys.argv[3])
service = LiveAccounts(sys.argv[2], AccountsSettings())
timings = []
with psycopg.connect(sys.argv[2]) as conn:
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    for i in range(int(sys.argv[4])):
        began = time.perf_counter()
        service.cycle(conn, now)
        timings.append(time.perf_counter() - began)
print(json.dumps(timings))
"""


def baseline_cycles(url: str, now: datetime, count: int, ref: str) -> list[float] | None:
    """The cycles of ``ref``'s code (default main) on the same database, or None without it."""
    tree = Path(tempfile.mkdtemp(prefix="clbench_baseline_"))
    try:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", ref], check=False, capture_output=True
        )
        if archive.returncode:
            print(f"   no baseline: git archive {ref}: {archive.stderr.decode().strip()}")
            return None
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
        out = subprocess.run(
            [sys.executable, "-c", _BASELINE, str(tree), url, now.isoformat(), str(count)],
            capture_output=True, text=True, check=True, cwd=tree,
        )  # fmt: skip
        timings: list[float] = json.loads(out.stdout.strip().splitlines()[-1])
        return timings
    finally:
        shutil.rmtree(tree, ignore_errors=True)


# --- the API --------------------------------------------------------------------------------------


async def _bank(url: str, codes: list[str]) -> str:
    from accounts.api import Role, Scope, create_key, grant_consent  # noqa: PLC0415

    expires = datetime.now(SHANGHAI) + timedelta(days=1)
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        key = await create_key(conn, Role.BANK, "bench", bank_id="bench-bank", rate_per_s=1e6,
                               burst=1_000_000)  # fmt: skip

    async def grant(part: list[str]) -> None:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            for code in part:
                await grant_consent(conn, code, "bench-bank", [Scope.ACCOUNT], expires, by="bench")

    await asyncio.gather(*(grant(codes[i::4]) for i in range(4)))
    return key.key


def api_phase(url: str, codes: list[str], args: argparse.Namespace, rss: Rss) -> dict[str, Any]:
    key = asyncio.run(_bank(url, codes))
    analyze(url)  # the consents and the accounts the cycles stored
    port = args.port
    server = service(["api", "--port", str(port), "--workers", str(args.workers), "--no-watch"],
                     url, rss, "api")  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            time.sleep(0.1)
        paths = [f"/v1/enterprises/{c}/account?period=mtd" for c in codes]
        random.Random(SEED).shuffle(paths)
        probe = httpx.get(base + paths[0], headers={"Authorization": f"Bearer {key}"})
        assert probe.status_code == 200, probe.text
        with tempfile.NamedTemporaryFile("w", suffix=".paths", delete=False) as f:
            f.write("\n".join(paths))
        try:
            generate = [sys.executable, str(ROOT / "benchmarks" / "api.py"), "--generate",
                        "--url", base, "--paths", f"@{f.name}", "--key", key,
                        "--connections", str(args.connections)]  # fmt: skip
            subprocess.run([*generate, "--rate", str(args.rate), "--seconds", "3"],
                           capture_output=True, check=True)  # warm-up  # fmt: skip
            out = subprocess.run(
                [*generate, "--rate", str(args.rate), "--seconds", str(args.api_seconds)],
                capture_output=True,
                text=True,
                check=True,
            )
        finally:
            os.unlink(f.name)
        result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
        result["body_bytes"] = len(probe.content)
        return result
    finally:
        stop(server)


# --- freshness ------------------------------------------------------------------------------------


def _wait_ready(url: str, since: datetime, enterprises: int, limit_s: float) -> float:
    """Seconds until ``accounts run`` has stored a month-to-date account of (nearly) every
    enterprise as of ``since`` or later (its first cycle refreshes them all)."""
    began = time.monotonic()
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() - began < limit_s:
            row = conn.execute(
                "SELECT count(*) FROM account_periods WHERE period_kind = 'mtd'"
                " AND status = 'live' AND as_of >= %s",
                (since,),
            ).fetchone()
            if row and row[0] >= enterprises * 0.99:
                return time.monotonic() - began
            time.sleep(1.0)
    raise TimeoutError(f"accounts run did not refresh every enterprise within {limit_s:.0f} s")


def freshness_phase(url: str, city: City, args: argparse.Namespace, rss: Rss) -> dict[str, Any]:
    aggregator = service(["aggregate"], url, rss, "aggregate run")
    accounts = service(["accounts", "run"], url, rss, "accounts run")
    writer = None
    try:
        ready = _wait_ready(url, datetime.now(SHANGHAI), len(city.enterprises), args.ready_limit)
        print(f"   accounts run: first cycle (every enterprise) done in {ready:.1f} s", flush=True)
        meters = [m for m in city.meters if m.cumulative]
        start = math.ceil(time.time()) + 45
        seeded = feed.seed_readings(url, meters, city.seed, start, args.stream_seconds)
        writer = subprocess.Popen(
            [sys.executable, str(ROOT / "benchmarks" / "province_stream.py"), "--url", url,
             "--enterprises", str(len(city.enterprises)), "--seed", str(city.seed),
             "--region", REGION, "--start", str(start), "--seconds", str(args.stream_seconds)],
            env={**os.environ, **QUIET}, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        rss.watch("ingest writer (stream)", writer.pid)
        window = feed.due(meters, start, start + args.stream_seconds)
        sample = random.Random(SEED).sample(window, min(args.tracked, len(window)))
        tracker = feed.Tracker(url, sample)
        print(f"   {seeded:,} seed readings; stream of {len(window):,} readings over "
              f"{args.stream_seconds:.0f} s ({len(window) / args.stream_seconds:,.0f}/s) "
              f"from {start - time.time():.0f} s on; tracking {len(sample)}",
              flush=True)  # fmt: skip
        tracker.poll(start + args.stream_seconds + args.grace)
        writer.wait(60)
        values = tracker.freshness()
    finally:
        for proc in (writer, accounts, aggregator):
            if proc is not None:
                stop(proc)  # type: ignore[arg-type]
    # a reading not seen in its account by the end counts as its wait so far (a lower bound)
    ended = start + args.stream_seconds + args.grace
    unseen = sum(1 for v in values if v is None)
    waits = sorted(ended - t if v is None else v for v, (t, _) in zip(values, sample, strict=True))
    p99 = waits[min(len(waits) - 1, int(0.99 * len(waits)))] if waits else None
    return {"p50": waits[len(waits) // 2] if waits else None, "p99": p99, "unseen": unseen,
            "tracked": len(values), "rate": len(window) / args.stream_seconds,
            "ready_s": ready, "oldest_xact_s": tracker.oldest_xact_s}  # fmt: skip


# --- the run --------------------------------------------------------------------------------------


def _db_size_gb(url: str) -> float:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    return round((row[0] if row else 0) / 1e9, 2)


def province(args: argparse.Namespace, now: datetime, rss: Rss, out: dict[str, Any]) -> None:
    t: dict[str, float] = {}
    first = now.date() - timedelta(days=args.days)
    with scratch("clbench_province", args.keep) as url:
        with phase("build city", t):
            city = build_city(args.enterprises, SEED, REGION)
        out.update(enterprises=len(city.enterprises), meters=len(city.meters))
        with phase("registry and history", t):
            out["rollup_rows"] = populate(url, city, first, now.date())
        out["history_rows_per_s"] = round(out["rollup_rows"] / t["registry and history"])
        timings = cycles(url, now, args.cycles)
        out["accounts_first_cycle_s"] = round(timings[0], 2)
        out["accounts_cycle_s"] = round(min(timings[1:] or timings), 2)
        out["regrade_s"] = round(regrade(url, now), 2)
        codes = [e.code for e in city.enterprises]
        if args.rate > 0:
            api = api_phase(url, codes, args, rss)
            out["api_account_p99_ms"] = round(api["p99_ms"], 1)
            out["api_account_p50_ms"] = round(api["p50_ms"], 1)
            out["api_achieved_rps"] = round(api["rps"])
            out["api_errors"] = api["errors"]
            out["api_generator_cpu_share"] = round(api["generator_cpu_s"] / api["seconds"], 2)
        if args.stream_seconds > 0:
            fresh = freshness_phase(url, city, args, rss)
            out["account_freshness_p99_s"] = _round(fresh["p99"])
            out["account_freshness_p50_s"] = _round(fresh["p50"])
            out["freshness_unseen"] = fresh["unseen"]
            out["stream_readings_per_s"] = round(fresh["rate"])
            out["accounts_run_first_cycle_s"] = round(fresh["ready_s"], 1)
            out["oldest_xact_during_stream_s"] = round(fresh["oldest_xact_s"], 1)
        out["db_size_gb"] = _db_size_gb(url)
        with psycopg.connect(url) as conn:
            row = conn.execute("SELECT pg_total_relation_size('rollups_15m')").fetchone()
        out["rollup_bytes_per_row"] = round((row[0] if row else 0) / max(1, out["rollup_rows"]))


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def sample(args: argparse.Namespace, now: datetime, out: dict[str, Any]) -> None:
    """Baseline (main's cycle) and the year recompute, on a sample small enough for both."""
    city = build_city(args.sample, SEED, REGION)
    year = [e.code for e in city.enterprises[: args.year_sample]]
    with scratch("clbench_province_sample", args.keep) as url:
        print(f"-- sample: {args.sample} enterprises, {args.year_sample} with a closed year …",
              flush=True)  # fmt: skip
        out["sample_rollup_rows"] = populate(url, city, now.date() - timedelta(days=args.days),
                                             now.date(), year)  # fmt: skip
        mine = cycles(url, now, 3)
        base = baseline_cycles(url, now, 3, args.baseline)
        out["sample_cycle_s"] = round(min(mine[1:]), 3)
        if base is not None:
            out["sample_baseline_cycle_s"] = round(min(base[1:]), 3)
            out["baseline_ratio"] = round(min(base[1:]) / min(mine[1:]), 2)
        figures = year_recompute(url, year, now)
        out.update(figures)
        scale = out["enterprises"] / len(year)
        out["year_recompute_buckets_scaled_s"] = round(
            figures["year_recompute_sample_buckets_s"] * scale, 1
        )
        # measured over the whole province when year_recompute_province ran
        out.setdefault("year_recompute_s", round(figures["year_recompute_sample_s"] * scale, 1))


def table(out: dict[str, Any], rss: Rss) -> None:
    goals = {"accounts_cycle_s": ("<=", 30), "account_freshness_p99_s": ("<=", 60),
             "api_account_p99_ms": ("<", 50), "year_recompute_s": ("<=", 600)}  # fmt: skip
    print(f"\n{'figure':<32}{'value':>16}  goal")
    for name, value in out.items():
        if name == "peak_rss_mb":
            continue
        goal = goals.get(name)
        mark = ""
        if goal and value is not None:
            ok = value <= goal[1] if goal[0] == "<=" else value < goal[1]
            mark = f"{goal[0]} {goal[1]}  {'met' if ok else 'NOT met'}"
        shown = f"{value:,}" if isinstance(value, int | float) else str(value)
        print(f"{name:<32}{shown:>16}  {mark}")
    for name, mb in sorted(rss.peaks.items()):
        print(f"peak RSS {name:<38}{mb:>8,.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--enterprises", type=int, default=50_000)
    parser.add_argument("--days", type=int, default=2, help="days of rollups before today")
    parser.add_argument("--cycles", type=int, default=2, help="accounts cycles (first: cold)")
    parser.add_argument("--sample", type=int, default=500, help="enterprises of the sample")
    parser.add_argument("--year-sample", type=int, default=50, help="of them with a year")
    parser.add_argument("--baseline", default="main", help="git ref of the baseline code")
    parser.add_argument("--rate", type=float, default=1000.0, help="API req/s (0: skip)")
    parser.add_argument("--api-seconds", type=float, default=20.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2, help="API worker processes")
    parser.add_argument("--port", type=int, default=18090)
    parser.add_argument("--stream-seconds", type=float, default=120.0, help="0: skip freshness")
    parser.add_argument("--grace", type=float, default=90.0, help="wait after the stream")
    parser.add_argument("--tracked", type=int, default=300, help="readings followed")
    parser.add_argument("--ready-limit", type=float, default=3600.0)
    parser.add_argument("--skip-sample", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the scratch databases")
    args = parser.parse_args()
    now = datetime.now(SHANGHAI).replace(microsecond=0)
    rss = Rss()
    out: dict[str, Any] = {}
    began = time.perf_counter()
    province(args, now, rss, out)
    if not args.skip_sample:
        sample(args, now, out)
    rss.self_peak()
    out["peak_rss_mb"] = {name: round(mb) for name, mb in rss.peaks.items()}
    out["bench_minutes"] = round((time.perf_counter() - began) / 60, 1)
    table(out, rss)
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
