"""Benchmark: a province on one machine (issue 15), one command, one table, one JSON line.

    .venv/bin/python benchmarks/province.py                       # 50,000 enterprises
    .venv/bin/python benchmarks/province.py --enterprises 2000 --days 1 --stream-seconds 60
    .venv/bin/python benchmarks/province.py --db clbench_province_50k   # fill once, then reuse

The province's database gets the simulated Zhejiang province (``simulate register --region
zhejiang``: the city's industry mix and meters per enterprise) and its 15-minute rollups of the
``--days`` days before today, written directly (``simulate history``'s writer, COPY). It is a
scratch database dropped at the end (``--keep`` keeps it), or with ``--db NAME`` one that is
kept: filled on the first run (the fill's size and cost are its ``COMMENT ON DATABASE``), then
reused, migrated forward with the platform's own ``migrate`` and reset to the fill. Then, each
phase through the platform's own entry points:

- ``accounts_cycle_s``: ``LiveAccounts.cycle`` (a process of its own, :func:`cycles`) after
  every meter got new data as ingest and the aggregator write it (:func:`advance`: a reading
  and change row per series, the rollups of a new 15-minute bucket, the aggregator's watermark
  past them): every enterprise changed, through the service's incremental path with its
  caches; the first cycle, which fills them, is ``accounts_first_cycle_s``. ``--steady``
  cycles then follow only the meters that read within a cycle period of the 15-minute stream
  (``steady_cycles``: how many enterprises a steady cycle refreshes, and its cost);
- ``regrade_s``: the grades of every enterprise's live accounts recomputed from the stored
  accounts (what every cycle that refreshed anyone does last);
- ``api_account_p99_ms``: ``GET /v1/enterprises/{code}/account?period=mtd`` as a bank with
  consent for every enterprise, open loop at ``--rate`` req/s over all of them in random order,
  latency from the scheduled send (``benchmarks/api.py``'s generator, its CPU reported); after
  a ``VACUUM (ANALYZE)`` of the tables an account read touches and a ``CHECKPOINT``
  (``api_settle_s``; ``--api-unsettled`` skips them), with the autovacuum workers and
  checkpoints that overlapped the load reported (``api_concurrent_autovacuum``,
  ``api_checkpoints``);
- ``account_freshness_p99_s``: ``aggregate run`` and ``accounts run`` as their own processes
  (production settings) while every register meter reads every 15 minutes
  (``province_stream.py``, through ingest's batch writer); a reading committed -> its bucket
  rewritten -> its enterprise's month-to-date account computed after that, for ``--tracked``
  readings; the services' own log lines give the cycles they ran meanwhile (``stream_*``), and
  the longest transaction holding an id anywhere on the server is reported (it holds the
  aggregator's watermark); a reading not through by the end counts its wait so far, and the
  figure is then a lower bound (``account_freshness_lower_bound``);
- a sample database (``--sample`` enterprises, same days, plus ``--year-sample`` of them with a
  whole closed year): the cycles of ``--baseline``'s code (default ``main``, ``git archive``)
  and of this checkout on the same data and the same changes, printing the ratio;
  ``year_recompute_s`` is the sample's year recompute scaled linearly to the province (a year
  of a province's rollups is about 5 billion rows: it does not fit this disk).

Peak RSS is sampled every 0.5 s for each service process and read for this process (which
runs the regrade and recompute in-process). Figures on a shared 2-core machine are noisy.
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
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psutil
import psycopg
from _common import (
    ADMIN_URL,
    ROOT,
    BaselineError,
    baseline_tree,
    create_database,
    database_url,
    scratch_database,
)
from psycopg import sql

sys.path.insert(0, str(ROOT))

import province_stream as feed
from api import maintenance_watch, wait_healthy

from accounts.ledger import Period, close, load_factors, recompute
from accounts.ledger._store import regrade_live
from analytics._months import seal
from carbonledger.config import AccountsSettings
from carbonledger.db import migrate
from carbonledger.tz import SHANGHAI
from simulator.city import City, Meter, build_city
from simulator.history import series_of, write_city_history, write_city_month_sums
from simulator.profiles import local_day
from simulator.registry import register_city, register_economics

SEED = 2026
REGION = "zhejiang"
QUIET = {
    "CARBONLEDGER_LOG_LEVEL": "WARNING",
    "CARBONLEDGER_AGGREGATE__METRICS_PORT": "0",
    "CARBONLEDGER_ACCOUNTS__METRICS_PORT": "0",
    "CARBONLEDGER_INGEST__METRICS_PORT": "0",
}


# --- databases and processes ----------------------------------------------------------------------


@contextlib.contextmanager
def scratch(prefix: str, keep: bool) -> Iterator[str]:
    """A migrated scratch database named ``prefix`` and a random suffix, for the block."""
    with scratch_database(f"{prefix}_{uuid.uuid4().hex[:8]}", keep=keep) as url:
        migrate(url, timescaledb="auto")
        yield url


@dataclass(frozen=True)
class Fill:
    """What a province database holds, kept as its ``COMMENT ON DATABASE`` (JSON) so that
    ``--db`` can reuse it: the city is rebuilt from (enterprises, seed, region)."""

    enterprises: int
    seed: int
    region: str
    first: date
    end: date  # rollups of the local days first..end, end excluded
    rollup_rows: int
    fill_s: float

    def comment(self) -> str:
        return json.dumps({**asdict(self), "first": str(self.first), "end": str(self.end)})

    @classmethod
    def of(cls, comment: str) -> Fill:
        raw = json.loads(comment)
        return cls(**{**raw, "first": date.fromisoformat(raw["first"]),
                      "end": date.fromisoformat(raw["end"])})  # fmt: skip


class ProvinceDatabaseError(RuntimeError):
    """``--db`` names a database that is not a province fill of the requested size."""


def _comment(name: str) -> str | None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            (name,),
        ).fetchone()
    if row is None:
        return None
    if row[0] is None:
        raise ProvinceDatabaseError(f"database {name} exists but was not filled by province.py")
    return str(row[0])


@contextlib.contextmanager
def province_db(args: argparse.Namespace, city: City, now: datetime) -> Iterator[tuple[str, Fill]]:
    """The province's database: ``--db NAME`` reuses a kept fill (migrated forward with the
    platform's own migrate, then reset to the fill: what a run adds is removed) or fills and
    keeps one of that name; otherwise a scratch database, dropped unless ``--keep``."""
    if args.db and (comment := _comment(args.db)) is not None:
        fill = Fill.of(comment)
        if (fill.enterprises, fill.seed, fill.region) != (len(city.enterprises), SEED, REGION):
            raise ProvinceDatabaseError(f"{args.db} holds {fill}, not --enterprises "
                                        f"{len(city.enterprises)}")  # fmt: skip
        url = database_url(args.db)
        migrate(url, timescaledb="auto")
        reset(url, fill)
        print(f"-- reusing {args.db}: {fill.rollup_rows:,} rollup rows of {fill.first}.."
              f"{fill.end} (its fill took {fill.fill_s:,.0f} s)", flush=True)  # fmt: skip
        if fill.end != now.date():
            print(f"   note: the fill ends {fill.end}, today is {now.date()}: the days between "
                  "have no rollups", flush=True)  # fmt: skip
        yield url, fill
        return
    with contextlib.ExitStack() as stack:
        if args.db:
            url = create_database(args.db)
            migrate(url, timescaledb="auto")
        else:
            url = stack.enter_context(scratch("clbench_province", args.keep))
        first = now.date() - timedelta(days=args.days)
        began = time.perf_counter()
        rows = populate(url, city, first, now.date())
        fill = Fill(len(city.enterprises), SEED, REGION, first, now.date(), rows,
                    round(time.perf_counter() - began, 1))  # fmt: skip
        name = urlsplit(url).path.lstrip("/")
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                sql.Identifier(name), sql.Literal(fill.comment())))  # fmt: skip
        print(
            f"   fill: {rows:,} rollup rows in {fill.fill_s:,.0f} s "
            f"({rows / fill.fill_s:,.0f} rows/s), {_db_size_gb(url)} GB",
            flush=True,
        )
        yield url, fill
    if args.db:
        print(f"kept database {args.db} (reuse it with --db {args.db})")


def reset(url: str, fill: Fill) -> None:
    """Back to the fill: a run adds readings, change rows, today's rollups, accounts, grades."""
    end = datetime.combine(fill.end, datetime.min.time(), SHANGHAI)
    with psycopg.connect(url) as conn:
        conn.execute("TRUNCATE readings, reading_changes, aggregator_watermarks, grades,"
                     " account_periods, factor_selection")  # fmt: skip
        conn.execute("DELETE FROM rollups_15m WHERE bucket >= %s", (end,))
        conn.execute("UPDATE rollup_frontiers SET time = %s WHERE time <> %s", (end, end))
    analyze(url)


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


def service(
    args: list[str], url: str, rss: Rss, name: str, log: Path | None = None, **settings: str
) -> subprocess.Popen[bytes]:
    """``carbonledger ARGS`` as its own process (``settings``: more environment); with
    ``log``, its INFO lines (JSON) go there."""
    env = {**os.environ, **QUIET, "DATABASE_URL": url, **settings}
    if log is not None:
        env.update(CARBONLEDGER_LOG_LEVEL="INFO", CARBONLEDGER_LOG_FORMAT="json")
    with contextlib.ExitStack() as files:
        stderr = None if log is None else files.enter_context(log.open("w"))
        proc = subprocess.Popen([sys.executable, "-m", "launcher", *args], env=env, cwd=ROOT,
                                stderr=stderr)  # fmt: skip
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


# --- live cycles with every enterprise changed ---------------------------------------------------

BUCKET = timedelta(minutes=15)
_BEHIND = timedelta(seconds=60)  # a cycle runs a minute after the readings it follows
_VALUES = "CREATE TEMP TABLE bench_values (meter_id text PRIMARY KEY, value float8)"
_READINGS = """
INSERT INTO readings (time, meter_id, quantity, value, quality)
SELECT %(at)s, r.meter_id, r.quantity, v.value, 'good'
FROM rollups_15m r JOIN bench_values v USING (meter_id) WHERE r.bucket = %(ref)s
"""
_CHANGES = """
INSERT INTO reading_changes (enterprise_code, meter_id, quantity, first_time, last_time, readings)
SELECT r.enterprise_code, r.meter_id, r.quantity, %(at)s, %(at)s, 1
FROM rollups_15m r JOIN bench_values v USING (meter_id) WHERE r.bucket = %(ref)s
"""
_ROLLUPS = """
INSERT INTO rollups_15m (bucket, enterprise_code, meter_id, quantity, activity_fp, covered_ms,
                         estimated_ms, readings_good)
SELECT %(bucket)s, r.enterprise_code, r.meter_id, r.quantity, r.activity_fp, r.covered_ms,
       r.estimated_ms, r.readings_good
FROM rollups_15m r JOIN bench_values v USING (meter_id) WHERE r.bucket = %(ref)s
ON CONFLICT (meter_id, quantity, bucket) DO UPDATE SET activity_fp = excluded.activity_fp,
    covered_ms = excluded.covered_ms, estimated_ms = excluded.estimated_ms,
    readings_good = excluded.readings_good, updated_at = now()
"""
_FRONTIERS = """
UPDATE rollup_frontiers f SET time = %(at)s, updated_at = now() FROM bench_values v
WHERE f.meter_id = v.meter_id
"""
_WATERMARK = """
INSERT INTO aggregator_watermarks (partitions, partition, txid) VALUES (1, 0, pg_current_xact_id())
ON CONFLICT (partitions, partition) DO UPDATE SET txid = excluded.txid, updated_at = now()
"""


def clock(now: datetime, count: int) -> list[datetime]:
    """``count`` quarter-hour boundaries of today, the last at or before ``now`` (after it when
    the day is too young): a cycle's clock, so that every cycle has a new bucket to read and no
    cycle is a new day's (which refreshes everything)."""
    last = now.replace(minute=now.minute // 15 * 15, second=0, microsecond=0)
    times = [last - (count - 1 - k) * BUCKET for k in range(count)]
    if times[0].date() != now.date():
        times = [last + k * BUCKET for k in range(count)]
    if times[-1].date() != now.date():
        raise SystemExit(f"{count} quarter hours do not fit in today: run after 01:00 local")
    return times


def advance(
    url: str,
    city: City,
    at: datetime,
    meters: Sequence[Meter] | None = None,
    *,
    reference: date | None = None,
) -> int:
    """New data for every series of ``meters`` (default: all) at ``at``, as ingest and the
    aggregator write it: in one transaction a reading of every series (its register value from
    the simulator's profiles) with its ``reading_changes`` row; in a second, the rollups of the
    bucket that reading closes (the series' same bucket on ``reference``, the fill's last day,
    by default the day before: today's buckets are empty, so every changed enterprise's figures
    move), the series' frontiers and the aggregator's watermark past the readings. The live
    service then takes the path it takes for a live meter: the change is in the current month,
    after its kept sums, and the series has a reading before it."""
    bucket = at - BUCKET
    day = reference or (bucket - timedelta(days=1)).date()
    params = {"at": at, "bucket": bucket, "ref": datetime.combine(day, bucket.timetz())}
    anchor = local_day(int(at.timestamp())) - 1
    with psycopg.connect(url) as conn:
        conn.execute(_VALUES)
        with conn.cursor().copy("COPY bench_values FROM STDIN") as copy:
            for m in city.meters if meters is None else meters:
                copy.write_row((m.id, feed.register_value(m, city.seed, at.timestamp(), anchor)))
        conn.commit()
        with conn.transaction():
            changed = conn.execute(_READINGS, params).rowcount
            conn.execute(_CHANGES, params)
        with conn.transaction():
            conn.execute(_ROLLUPS, params)
            conn.execute(_FRONTIERS, params)
            conn.execute(_WATERMARK)
    return changed


def reading_within(city: City, seconds: float) -> list[Meter]:
    """The meters with a reading in the first ``seconds`` of a quarter hour (their phase in the
    15-minute stream, :func:`province_stream.phase`): what a live cycle of that period finds
    changed under the stream."""
    return [m for m in city.meters if feed.phase(m.id) < seconds]


_WORKER = """
import sys, time
from datetime import datetime
import psycopg
from _common import process_cpu_s
from carbonledger.config import load_settings
from carbonledger.db import migrate
import accounts.ledger.service as s
assert s.__file__.startswith(sys.argv[2]), s.__file__
migrate(sys.argv[1])  # the schema this code expects (a baseline may be newer than the checkout)
service = s.LiveAccounts(sys.argv[1], load_settings().accounts)  # as deployed: from the environment
with psycopg.connect(sys.argv[1]) as conn:
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    def cpu():  # this process's and its database session's (same machine)
        return time.process_time() + process_cpu_s(conn.info.backend_pid)
    print("ready", flush=True)
    for line in sys.stdin:
        began, used = time.perf_counter(), cpu()
        outcome = service.cycle(conn, datetime.fromisoformat(line.strip()))
        print(outcome.refreshed, int(outcome.full), time.perf_counter() - began, cpu() - used,
              flush=True)
"""


@dataclass(frozen=True)
class Cycle:
    refreshed: int
    full: bool
    seconds: float
    cpu_s: float  # the service process's CPU and its database backend's (on a shared machine)
    advance_s: float  # writing the new data before it (not part of the cycle)


def _unspread(code: Path) -> dict[str, str]:
    """``accounts.spread_s`` 0 for this checkout (a baseline before it has no such setting)."""
    return {"CARBONLEDGER_ACCOUNTS__SPREAD_S": "0"} if code == ROOT else {}


Step = tuple[datetime, Sequence[Meter] | None]  # a cycle's clock and the meters read before it


def cycles(
    url: str,
    city: City,
    steps: list[Step],
    code: Path,
    rss: Rss | None = None,
    *,
    reference: date | None = None,
) -> list[Cycle]:
    """One ``LiveAccounts`` (``code``'s: this checkout or the baseline's tree) in a process of
    its own, one cycle per step after :func:`advance` wrote that step's data (``reference``: the
    day whose buckets it copies): the first fills its caches, every other one follows the
    enterprises changed through the aggregator's watermark (every one, or those of the step's
    meters). The cache lifetime is lifted so that
    no timed cycle is the periodic full refresh (``accounts.cache_ttl_s``), a different figure,
    and this checkout's full refreshes are not spread (``accounts.spread_s`` 0), so that its first
    cycle is every enterprise's."""
    # the code under test first; this checkout's benchmarks/ for the measuring (_common)
    path = os.pathsep.join(map(str, (code, ROOT, ROOT / "benchmarks")))
    worker = subprocess.Popen(
        [sys.executable, "-c", _WORKER, url, str(code)],
        env={**os.environ, **QUIET, "PYTHONPATH": path,
             "CARBONLEDGER_ACCOUNTS__CACHE_TTL_S": "86400", **_unspread(code)},
        cwd=code, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert worker.stdin is not None and worker.stdout is not None
    if rss is not None:
        rss.watch("accounts cycles (benchmark worker)", worker.pid)
    out = []
    try:
        if worker.stdout.readline().strip() != "ready":
            raise RuntimeError(f"cycle worker exited with {worker.wait()}")
        for at, meters in steps:
            began = time.perf_counter()
            changed = advance(url, city, at, meters, reference=reference)
            wrote = time.perf_counter() - began
            worker.stdin.write(f"{(at + _BEHIND).isoformat()}\n")
            worker.stdin.flush()
            line = worker.stdout.readline().split()
            if not line:
                raise RuntimeError(f"cycle worker exited with {worker.wait()}")
            out.append(Cycle(int(line[0]), line[1] == "1", float(line[2]), float(line[3]), wrote))
            print(f"   cycle at {at:%H:%M}: {changed:,} series changed ({wrote:.1f} s to write),"
                  f" {out[-1].refreshed:,} enterprises refreshed in {out[-1].seconds:.1f} s"
                  f" ({out[-1].cpu_s:.1f} s CPU)"
                  f"{' (full)' if out[-1].full else ''}", flush=True)  # fmt: skip
    finally:
        worker.stdin.close()
        worker.wait(60)
    return out


def regrade(url: str, now: datetime) -> float:
    """Grades of every stored account of the live periods (month to date, rolling 12 months,
    year), recomputed from the stored accounts: what every cycle that refreshed anyone does
    last, for every enterprise (industry baselines are averages over all of them)."""
    with psycopg.connect(url) as conn:
        began = time.perf_counter()
        with conn.transaction():
            regrade_live(conn, AccountsSettings(), now)
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


def settle(url: str) -> float:
    """VACUUM (ANALYZE) the tables an account read touches, then a CHECKPOINT: seconds taken.

    The cycles before the API phase rewrite every live account (on the province, 150,000 rows
    of about 8 KB of jsonb, several times): dead versions nothing has reclaimed yet (3.8 GB for
    150,000 live rows; autovacuum may be off, as on the CI server, or run during the phase) and
    the dirty pages and WAL of the rewrites, whose checkpoints would otherwise fall in the
    phase's 20 s and stall the audit commits every response waits for. Settling first measures
    the API; ``--api-unsettled`` measures it in the rewrites' wake, and the phase reports what
    maintenance overlapped it either way (docs/scale.md)."""
    began = time.monotonic()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) account_periods, grades, consents, audit_log")
        conn.execute("CHECKPOINT")
    return time.monotonic() - began


def api_phase(url: str, codes: list[str], args: argparse.Namespace, rss: Rss) -> dict[str, Any]:
    key = asyncio.run(_bank(url, codes))
    analyze(url)  # the consents and the accounts the cycles stored
    settled_s = None if args.api_unsettled else settle(url)
    port = args.port
    server = service(["api", "--port", str(port), "--workers", str(args.workers), "--no-watch"],
                     url, rss, "api")  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base)
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
            with maintenance_watch(url) as maintenance:
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
        result["settled_s"] = settled_s
        result["maintenance"] = maintenance
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


def _logged(log: Path, message: str, since: float, until: float) -> list[dict[str, Any]]:
    """The JSON log lines ``message`` of a service written between two epoch times."""
    out = []
    for line in log.read_text().splitlines():
        with contextlib.suppress(ValueError):
            row = json.loads(line)
            at = datetime.fromisoformat(row.get("ts", "").replace("Z", "+00:00")).timestamp()
            if row.get("msg") == message and since <= at < until:
                out.append(row)
    return out


def _quantile(values: list[float], q: float) -> float | None:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else None


def _steady(logs: Path, since: float, until: float) -> dict[str, Any]:
    """What the services did while the stream ran: the accounts cycles (enterprises refreshed,
    seconds, full refreshes) and the aggregator's batches (lag of their oldest change)."""
    cycles_ = [
        line
        for log in sorted(logs.glob("accounts*.jsonl"))
        for line in _logged(log, "live accounts refreshed", since, until)
    ]
    batches = _logged(logs / "aggregate.jsonl", "rollups refreshed", since, until)
    partial = [c for c in cycles_ if not c.get("full")]
    waits = [c["oldest_change_s"] for c in cycles_ if c.get("oldest_change_s") is not None]
    return {
        "stream_accounts_cycles": len(cycles_),
        "stream_full_cycles": len(cycles_) - len(partial),
        "stream_cycle_enterprises_p50": _quantile([c["enterprises"] for c in partial], 0.5),
        "stream_cycle_s_p50": _quantile([c["seconds"] for c in partial], 0.5),
        "stream_cycle_s_max": _quantile([c["seconds"] for c in cycles_], 1.0),
        # per cycle, its oldest change's wait from commit to the accounts' commit, as the
        # service logs it: no poll resolution, and the longest any reading of the cycle waited
        "stream_oldest_change_s_p50": _quantile(waits, 0.5),
        "stream_oldest_change_s_p99": _quantile(waits, 0.99),
        "stream_oldest_change_s_max": _quantile(waits, 1.0),
        "stream_aggregate_batches": len(batches),
        "stream_aggregate_lag_p99_s": _quantile([b["lag_s"] for b in batches], 0.99),
    }


def freshness_phase(url: str, city: City, args: argparse.Namespace, rss: Rss) -> dict[str, Any]:
    logs = Path(tempfile.mkdtemp(prefix="clbench_province_logs_"))
    aggregator = service(["aggregate"], url, rss, "aggregate run", logs / "aggregate.jsonl")
    count = args.accounts_processes
    accounts = [
        service(["accounts", "run"], url, rss, f"accounts run {i + 1}/{count}",
                logs / f"accounts{i}.jsonl", CARBONLEDGER_ACCOUNTS__PARTITIONS=str(count),
                CARBONLEDGER_ACCOUNTS__GRADE_S=str(args.grade_s),
                CARBONLEDGER_ACCOUNTS__SPREAD_S=str(args.spread_s))
        for i in range(count)
    ]  # fmt: skip
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
        ended = start + args.stream_seconds + args.grace
        tracker.poll(ended)
        writer.wait(60)
        followed = tracker.freshness()
    finally:
        for proc in (writer, *accounts, aggregator):
            if proc is not None:
                stop(proc)  # type: ignore[arg-type]
    steady = _steady(logs, start, ended)
    shutil.rmtree(logs, ignore_errors=True)
    # a reading not seen in its account by the end counts as its wait so far (a lower bound)
    waits = [ended - t if f.account_s is None else f.account_s
             for f, (t, _) in zip(followed, sample, strict=True)]  # fmt: skip
    rollups = [ended - t if f.rollup_s is None else f.rollup_s
               for f, (t, _) in zip(followed, sample, strict=True)]  # fmt: skip
    return {"p50": _quantile(waits, 0.5), "p99": _quantile(waits, 0.99),
            "rollup_p50": _quantile(rollups, 0.5), "rollup_p99": _quantile(rollups, 0.99),
            "unseen": sum(1 for f in followed if f.account_s is None), "tracked": len(followed),
            "rate": len(window) / args.stream_seconds, "ready_s": ready,
            "writer_s": tracker.writer_s, "writer": tracker.writer, **steady}  # fmt: skip


# --- the run --------------------------------------------------------------------------------------


def _db_size_gb(url: str) -> float:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    return round((row[0] if row else 0) / 1e9, 2)


def province(args: argparse.Namespace, now: datetime, rss: Rss, out: dict[str, Any]) -> None:
    t: dict[str, float] = {}
    with phase("build city", t):
        city = build_city(args.enterprises, SEED, REGION)
    out.update(enterprises=len(city.enterprises), meters=len(city.meters))
    with province_db(args, city, now) as (url, fill):
        out.update(rollup_rows=fill.rollup_rows, fill_s=fill.fill_s,
                   history_rows_per_s=round(fill.rollup_rows / fill.fill_s))  # fmt: skip
        times = clock(now, args.cycles + 1 + len(args.steady))
        if args.stream_seconds > 0 and times[-1] > now:
            # the stream's readings would fall before the buckets the cycles wrote, which every
            # account then books already: freshness would come out negative
            raise SystemExit("the day is too young for the cycles' quarter hours before the "
                             "stream: run after 01:00 local (Asia/Shanghai)")  # fmt: skip
        steps: list[Step] = [(at, None) for at in times[: args.cycles + 1]]
        steps += [
            (at, reading_within(city, s))
            for at, s in zip(times[args.cycles + 1 :], args.steady, strict=True)
        ]
        first, *changed = cycles(
            url, city, steps, ROOT, rss, reference=fill.end - timedelta(days=1)
        )
        changed, steady = changed[: args.cycles], changed[args.cycles :]
        out["accounts_first_cycle_s"] = round(first.seconds, 2)
        out["accounts_first_cycle_cpu_s"] = round(first.cpu_s, 2)
        if changed:
            out["accounts_cycle_s"] = round(min(c.seconds for c in changed), 2)
            out["accounts_cycles_all_s"] = [round(c.seconds, 1) for c in changed]
            out["accounts_cycle_cpu_s"] = round(min(c.cpu_s for c in changed), 2)
            out["accounts_cycle_refreshed"] = min(c.refreshed for c in changed)
            out["accounts_cycle_full"] = any(c.full for c in changed)
            out["changes_write_s"] = round(max(c.advance_s for c in changed), 1)
        out["steady_cycles"] = [
            {
                "period_s": s,
                "enterprises": c.refreshed,
                "cycle_s": round(c.seconds, 2),
                "cpu_s": round(c.cpu_s, 2),
            }
            for s, c in zip(args.steady, steady, strict=True)
        ]
        out["regrade_s"] = round(regrade(url, times[-1] + _BEHIND), 2)
        codes = [e.code for e in city.enterprises]
        if args.rate > 0:
            out.update(_api_figures(api_phase(url, codes, args, rss)))
        if args.stream_seconds > 0:
            fresh = freshness_phase(url, city, args, rss)
            out["account_freshness_p99_s"] = _round(fresh.pop("p99"))
            out["account_freshness_p50_s"] = _round(fresh.pop("p50"))
            out["account_freshness_lower_bound"] = fresh["unseen"] > 0.01 * fresh["tracked"]
            out["freshness_to_rollup_p50_s"] = _round(fresh.pop("rollup_p50"))
            out["freshness_to_rollup_p99_s"] = _round(fresh.pop("rollup_p99"))
            out["freshness_unseen"] = fresh.pop("unseen")
            out["freshness_tracked"] = fresh.pop("tracked")
            out["stream_readings_per_s"] = round(fresh.pop("rate"))
            out["accounts_run_first_cycle_s"] = round(fresh.pop("ready_s"), 1)
            out["longest_writer_during_stream_s"] = round(fresh.pop("writer_s"), 1)
            out["longest_writer_during_stream"] = fresh.pop("writer")
            out.update({k: _round(v) if isinstance(v, float) else v for k, v in fresh.items()})
        out["db_size_gb"] = _db_size_gb(url)
        with psycopg.connect(url) as conn:
            row = conn.execute("SELECT pg_total_relation_size('rollups_15m')").fetchone()
        out["rollup_bytes_per_row"] = round((row[0] if row else 0) / max(1, out["rollup_rows"]))


def _api_figures(api: dict[str, Any]) -> dict[str, Any]:
    return {
        "api_account_p99_ms": round(api["p99_ms"], 1),
        "api_account_p50_ms": round(api["p50_ms"], 1),
        "api_achieved_rps": round(api["rps"]),
        "api_errors": api["errors"],
        "api_generator_cpu_share": round(api["generator_cpu_s"] / api["seconds"], 2),
        "api_settle_s": _round(api["settled_s"]),  # None: --api-unsettled
        "api_concurrent_autovacuum": api["maintenance"]["autovacuum"],
        "api_checkpoints": api["maintenance"].get("checkpoints"),
        "api_checkpoint_buffers": api["maintenance"].get("checkpoint_buffers"),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _clear_accounts(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE grades, account_periods, factor_selection")


def sample(args: argparse.Namespace, now: datetime, out: dict[str, Any]) -> None:
    """Baseline (``--baseline``'s cycle, default main) and the year recompute, on a sample small
    enough for both: each side's service in its own process, a first cycle then three with every
    enterprise changed (:func:`cycles`), on the same data."""
    city = build_city(args.sample, SEED, REGION)
    year = [e.code for e in city.enterprises[: args.year_sample]]
    with scratch("clbench_province_sample", args.keep) as url:
        print(f"-- sample: {args.sample} enterprises, {args.year_sample} with a closed year …",
              flush=True)  # fmt: skip
        out["sample_rollup_rows"] = populate(url, city, now.date() - timedelta(days=args.days),
                                             now.date(), year)  # fmt: skip
        times = clock(now, 8)
        steps: list[Step] = [(at, None) for at in times]
        mine = [c.seconds for c in cycles(url, city, steps[:4], ROOT)[1:]]
        out["sample_cycle_s"] = round(min(mine), 3)
        with tempfile.TemporaryDirectory(prefix="clbench_baseline_",
                                         ignore_cleanup_errors=True) as tmp:  # fmt: skip
            try:
                tree = baseline_tree(args.baseline, Path(tmp))
            except BaselineError as error:
                print(f"   no baseline: {error}")
            else:
                _clear_accounts(url)
                base = [c.seconds for c in cycles(url, city, steps[4:], tree)[1:]]
                out["sample_baseline_cycle_s"] = round(min(base), 3)
                out["baseline_ratio"] = round(min(base) / min(mine), 2)
        figures = year_recompute(url, year, now)
        out.update(figures)
        scale = out["enterprises"] / len(year)
        out["year_recompute_buckets_scaled_s"] = round(
            figures["year_recompute_sample_buckets_s"] * scale, 1
        )
        # scaled from the sample; benchmarks/year_recompute.py measures the whole province
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
    parser.add_argument("--cycles", type=int, default=2,
                        help="cycles with every enterprise changed, after the first")  # fmt: skip
    parser.add_argument("--steady", type=lambda v: [float(x) for x in v.split(",") if x],
                        default=[10.0, 30.0, 60.0], help="cycle periods (s) whose 15-minute "
                        "stream's changes a steady cycle follows, comma separated")  # fmt: skip
    parser.add_argument("--sample", type=int, default=500, help="enterprises of the sample")
    parser.add_argument("--year-sample", type=int, default=50, help="of them with a year")
    parser.add_argument("--baseline", default="main", help="git ref of the baseline code")
    parser.add_argument("--rate", type=float, default=1000.0, help="API req/s (0: skip)")
    parser.add_argument("--api-seconds", type=float, default=20.0)
    parser.add_argument("--api-unsettled", action="store_true",
                        help="no VACUUM (ANALYZE) and CHECKPOINT before the API phase")  # fmt: skip
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2, help="API worker processes")
    parser.add_argument("--port", type=int, default=18090)
    parser.add_argument("--stream-seconds", type=float, default=120.0, help="0: skip freshness")
    parser.add_argument("--grace", type=float, default=90.0, help="wait after the stream")
    parser.add_argument("--tracked", type=int, default=300, help="readings followed")
    parser.add_argument("--ready-limit", type=float, default=3600.0)
    parser.add_argument("--accounts-processes", type=int, default=1,
                        help="`accounts run` processes (accounts.partitions)")  # fmt: skip
    parser.add_argument(
        "--grade-s",
        type=float,
        default=30.0,
        help="accounts.grade_s of the stream's accounts run (a province's)",
    )
    parser.add_argument(
        "--spread-s",
        type=float,
        default=600.0,
        help="accounts.spread_s of the stream's accounts run (a province's: several times a"
        " refresh of everyone, so that a cycle's slice of it stays small)",
    )
    parser.add_argument("--skip-sample", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the scratch databases")
    parser.add_argument(
        "--db",
        default=None,
        help="the province database: reused when it "
        "holds a fill of this size, else filled and kept (clbench_province_*)",
    )
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
