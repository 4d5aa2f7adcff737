"""Benchmark: one live-accounts cycle in which every enterprise changed, baseline code vs this one.

    .venv/bin/python benchmarks/live_accounts.py --enterprises 500 --months 2
    .venv/bin/python benchmarks/live_accounts.py --enterprises 5000 --months 2 --step 8 \\
        --processes 2 --baseline none

A scratch database gets the simulated city (``--enterprises``, ``--region``) and 15-minute rollups
for every booked meter over ``--months`` months up to ``NOW`` (COPY; ``--step k`` writes every
k-th bucket only, and every bucket of the last two hours, so a province fits on the disk: the
accounts' cost depends on the number of (meter, month) sums, a cycle's read on the rollups since
the current month's frontier). Then, for the baseline code (a git ref
extracted with ``git archive``, default ``main``) and this checkout, alternately:

- ``--processes`` worker processes run ``LiveAccounts`` (this checkout with
  ``accounts.partitions`` = processes; the baseline always one); each does its first (full)
  cycle, which fills its cache of past months;
- ``--cycles`` times: a change row for every enterprise is committed and the aggregator's
  watermark moved past it, then every worker runs ``LiveAccounts.cycle(conn, NOW)``; the cycle
  time is the wall time until the last worker is done (grades included);
- the accounts, grades and factor selections are copied aside.

Both sides' stored accounts (every column, the whole ``detail`` with its exact values) and
grades are then compared row for row: the run fails if one differs. ``--recompute-year`` also
times closing and recomputing a year (``accounts.ledger.close`` / ``recompute``). The last line
is one JSON object with the figures. The machine is shared: the sides alternate so that load
hits both.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
from _common import (
    ROOT,
    baseline_tree,
    create_database,
    database_url,
    drop_database,
    process_cpu_s,
)

QUANTITY = {"electricity": "energy_import", "pv": "energy_generated", "natural_gas": "gas_volume",
            "steam": "steam_mass", "diesel": "diesel_mass", "flue_gas": "co2_mass"}  # fmt: skip
TABLES = ("account_periods", "grades", "factor_selection")
# compared columns (grades.computed_at is now() of the write)
_GRADE_COLUMNS = (
    "enterprise_code, period_kind, period_start, model, model_version, industry_code, l_value,"
    " industry_l, k_value, grade, colour, level, basis, label, account_version"
)


def _now() -> datetime:
    from carbonledger.tz import SHANGHAI  # noqa: PLC0415 - workers import after sys.path is set

    return datetime(2026, 11, 20, 10, 0, tzinfo=SHANGHAI)


def fill(url: str, args: argparse.Namespace) -> int:
    from accounts.ledger import load_factors  # noqa: PLC0415
    from accounts.ledger._period import add_months, local_midnight, month_start  # noqa: PLC0415
    from carbonledger.db import migrate  # noqa: PLC0415
    from simulator.city import build_city  # noqa: PLC0415
    from simulator.registry import register_city, register_economics  # noqa: PLC0415

    migrate(url, timescaledb="off")
    now = _now()
    city = build_city(args.enterprises, 2026, args.region)
    start = local_midnight(add_months(month_start(now.date()), -(args.months - 1)))
    buckets = int((now - start).total_seconds() // 900)
    with psycopg.connect(url) as conn:
        load_factors(conn)
        register_city(conn, city)
        register_economics(conn, city, now.date())
        rows = 0
        with (
            conn.cursor() as cur,
            cur.copy(
                "COPY rollups_15m (bucket, enterprise_code, meter_id, quantity, activity_fp,"
                " covered_ms, estimated_ms, readings_good) FROM STDIN"
            ) as copy,
        ):
            for m in city.meters:
                quantity = QUANTITY[m.carrier]
                fp = max(1, int(m.rate * 0.25 * 10_000)) if m.cumulative else 500_000
                # every bucket of the last two hours whatever the step: what a cycle reads
                for b in (b for b in range(buckets) if b % args.step == 0 or b >= buckets - 8):
                    t = start + timedelta(minutes=15 * b)
                    copy.write_row((t, m.enterprise_code, m.id, quantity, fp, 900_000, 0, 60))
                    rows += 1
        # readings of the meter that changes (see change_everything), early this month and
        # half an hour ago: a change after them reaches back neither into a past month nor
        # before the current month's frontier, as for a live meter
        early = local_midnight(month_start(now.date())) + timedelta(hours=2)
        first = {}
        for m in city.meters:
            first.setdefault(m.enterprise_code, (m.id, QUANTITY[m.carrier]))
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO readings (time, meter_id, quantity, value, quality)"
                " VALUES (%s, %s, %s, 1, 'good')",
                [
                    (at, meter, quantity)
                    for meter, quantity in first.values()
                    for at in (early, now - timedelta(minutes=30))
                ],
            )
        conn.execute("ANALYZE")
    return rows


def seal_months(url: str) -> None:
    """Store the sums of the months ended a week before NOW: this checkout's ledger reads them,
    the baseline's reads the buckets, and the stored accounts are compared."""
    from analytics._months import seal, seal_due  # noqa: PLC0415

    began = time.perf_counter()
    with psycopg.connect(url) as conn:
        seal(conn, seal_due(_now(), 7))
        conn.execute("ANALYZE rollup_months")
    print(f"sealed the months before {seal_due(_now(), 7)} ({time.perf_counter() - began:.1f} s)")


def change_everything(url: str) -> None:
    """A change row for every enterprise (its meter with readings, just before NOW), then the
    aggregator's watermark past it: the next cycle refreshes every enterprise."""
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO reading_changes (enterprise_code, meter_id, quantity, first_time,"
            " last_time, readings)"
            " SELECT DISTINCT ON (m.enterprise_code) m.enterprise_code, m.id, r.quantity, %s,"
            " %s, 1 FROM meters m JOIN readings r ON r.meter_id = m.id"
            " ORDER BY m.enterprise_code, m.id",
            (_now() - timedelta(minutes=1), _now() - timedelta(minutes=1)),
        )
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO aggregator_watermarks (partitions, partition, txid)"
            " VALUES (1, 0, pg_current_xact_id())"
            " ON CONFLICT (partitions, partition) DO UPDATE SET txid = excluded.txid,"
            " updated_at = now()"
        )


def snapshot(url: str, side: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for table in TABLES:
            name = f"bench_{side}_{table}"
            conn.execute(f"DROP TABLE IF EXISTS {name}")
            conn.execute(f"CREATE TABLE {name} AS SELECT * FROM {table}")


def clear(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE grades, account_periods, factor_selection")


def differences(url: str) -> dict[str, int]:
    """Rows of one side missing from the other, per table and direction (0 everywhere: same)."""
    ap = "SELECT enterprise_code, period_kind, period_start, version, status, detail::text, {cols}"
    cols = (
        "period_end, as_of, tco2_total, tco2_scope1, tco2_scope2, tco2_own_generation_avoided,"
        " tco2_measured, tce_equivalent, tce_equal, value_added, revenue, intensity_va,"
        " intensity_revenue, coverage, estimated_share, offline_meters, computed_at, reason"
    )
    queries = {
        "account_periods": ap.format(cols=cols) + " FROM bench_{a}_account_periods",
        "grades": f"SELECT {_GRADE_COLUMNS} FROM bench_{{a}}_grades",
        "factor_selection": "SELECT enterprise_code, month, carrier, factor_id, tco2_num,"
        " tco2_den, tce_equivalent, tce_equal, tce_factor_ids FROM bench_{a}_factor_selection",
    }
    out = {}
    with psycopg.connect(url, autocommit=True) as conn:
        for table, query in queries.items():
            for a, b in (("base", "new"), ("new", "base")):
                q = f"SELECT count(*) FROM ({query.format(a=a)} EXCEPT {query.format(a=b)}) x"
                out[f"{table}:{a}-{b}"] = conn.execute(q).fetchone()[0]  # type: ignore[index]
            rows = conn.execute(f"SELECT count(*) FROM bench_new_{table}").fetchone()
            out[f"{table}:rows"] = rows[0] if rows else 0
    return out


class Side:
    """The worker processes of one side (code on PYTHONPATH), driven over stdin/stdout."""

    def __init__(self, url: str, path: Path, processes: int) -> None:
        self.cpu = [0.0, 0.0]
        env = {**os.environ, "PYTHONPATH": f"{path}{os.pathsep}{ROOT}"}
        command = [sys.executable, __file__, "--worker", url, "--processes", str(processes)]
        self.workers = [
            subprocess.Popen(
                command, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
            )
            for _ in range(processes)
        ]
        began = time.perf_counter()
        for w in self.workers:
            self._answer(w)  # joined
        self._send("cycle")
        self.first = time.perf_counter() - began

    def _send(self, command: str) -> list[float]:
        for w in self.workers:
            assert w.stdin is not None
            w.stdin.write(command + "\n")
            w.stdin.flush()
        return [self._answer(w) for w in self.workers]

    def _answer(self, w: subprocess.Popen[str]) -> float:
        """The worker's wall time; a cycle's CPU times are added to :attr:`cpu`."""
        assert w.stdout is not None
        line = w.stdout.readline()
        if not line:
            raise RuntimeError(f"worker exited with {w.wait()}")
        words = line.split()
        if words[0] == "cycle":
            self.cpu[0] += float(words[1])
            self.cpu[1] += float(words[2])
        return float(words[-1])

    def cycle(self) -> tuple[float, tuple[float, float]]:
        """The cycle's wall time, and the CPU seconds of the service processes and of their
        database sessions, all workers added."""
        self.cpu = [0.0, 0.0]
        began = time.perf_counter()
        self._send("cycle")
        return time.perf_counter() - began, (self.cpu[0], self.cpu[1])

    def close(self) -> None:
        for w in self.workers:
            assert w.stdin is not None
            w.stdin.write("quit\n")
            w.stdin.flush()
            w.wait(60)


def worker(url: str, processes: int) -> None:
    """One ``accounts run`` process, stepped by the parent (joined, then a cycle per line)."""
    from accounts.ledger.service import LiveAccounts  # noqa: PLC0415
    from carbonledger.config import AccountsSettings  # noqa: PLC0415

    settings = AccountsSettings()
    if processes > 1:
        settings = AccountsSettings(partitions=processes)  # type: ignore[call-arg]
    service = LiveAccounts(url, settings)
    with psycopg.connect(url, autocommit=True) as conn:
        partitions = getattr(service, "partitions", None)
        if partitions is not None:
            while partitions.join(conn) < processes:  # everyone in before anyone balances
                time.sleep(0.05)
        conn.autocommit = False
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        print("joined 0", flush=True)
        backend = conn.info.backend_pid
        for line in sys.stdin:
            if line.strip() == "quit":
                break
            began, cpu, server = time.perf_counter(), time.process_time(), process_cpu_s(backend)
            service.cycle(conn, _now())
            cpu, server = time.process_time() - cpu, process_cpu_s(backend) - server
            print(f"cycle {cpu:.4f} {server:.4f} {time.perf_counter() - began:.4f}", flush=True)


def recompute_year(url: str, year: str) -> dict[str, float]:
    """Close the year (from the 15-minute rollups), recompute it from them, seal the past months
    (their sums stored), recompute it again from the sums: every recomputed account must equal
    the closed one (``recompute`` writes no new version then)."""
    from accounts.ledger import Period, close, recompute  # noqa: PLC0415
    from analytics._months import seal, seal_due  # noqa: PLC0415

    period = Period.parse(year, _now())
    later = _now() + timedelta(days=1)
    with psycopg.connect(url, autocommit=True) as conn:
        sealed = conn.execute("SELECT sealed_before FROM rollup_seal").fetchone()
        if sealed and sealed[0] > period.start:
            raise SystemExit("the year is sealed already: run without --seal for the baseline")
        began = time.perf_counter()
        closed = close(conn, period, now=_now())
        closing = time.perf_counter() - began
        began = time.perf_counter()
        from_buckets = recompute(conn, period, "benchmark", now=later)
        buckets = time.perf_counter() - began
        began = time.perf_counter()
        seal(conn, seal_due(_now(), 7))
        sealing = time.perf_counter() - began
        began = time.perf_counter()
        from_sums = recompute(conn, period, "benchmark", now=later)
        sums = time.perf_counter() - began
    changed = [r for r in (*from_buckets, *from_sums) if r.new_version is not None]
    print(f"year {year}: {len(closed)} accounts closed in {closing:.2f} s; recomputed from"
          f" 15-minute rollups {buckets:.2f} s, from sealed month sums {sums:.2f} s"
          f" ({buckets / sums:.1f}x; seal {sealing:.2f} s); changed {len(changed)}")  # fmt: skip
    if changed or len(from_sums) != len(closed):
        raise SystemExit(f"recomputed accounts differ from the closed ones: {changed[:3]}")
    return {"year_close_s": round(closing, 3), "year_recompute_buckets_s": round(buckets, 3),
            "year_seal_s": round(sealing, 3), "year_recompute_s": round(sums, 3),
            "year_recompute_ratio": round(buckets / sums, 2),
            "year_accounts": len(closed)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--enterprises", type=int, default=500)
    parser.add_argument("--months", type=int, default=2)
    parser.add_argument("--step", type=int, default=1, help="write every k-th 15-minute bucket")
    parser.add_argument(
        "--region", default="lishui", help="simulated region (zhejiang: a province)"
    )
    parser.add_argument("--cycles", type=int, default=2, help="timed cycles per side and round")
    parser.add_argument("--rounds", type=int, default=2, help="baseline/new alternations")
    parser.add_argument("--processes", type=int, default=1, help="this checkout's processes")
    parser.add_argument("--baseline", default="main", help="git ref of the baseline, or none")
    parser.add_argument("--recompute-year", default=None, metavar="YYYY")
    parser.add_argument(
        "--seal", action="store_true", help="seal the past months after the fill (stored sums)"
    )
    parser.add_argument("--db", default=None, help="use this filled database (kept)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.processes)
        return
    name = args.db or f"clbench_accounts_{uuid.uuid4().hex[:8]}"
    url = database_url(name)
    rows = None
    try:
        if not args.db:
            create_database(name)
            began = time.perf_counter()
            rows = fill(url, args)
            print(f"{rows:,} rollup rows, {args.enterprises} enterprises, {args.months} months,"
                  f" every {args.step}. bucket ({time.perf_counter() - began:.0f} s)")  # fmt: skip
            if args.seal:
                seal_months(url)
        figures = run(url, args)
        figures.update(enterprises=args.enterprises, months=args.months, step=args.step,
                       rollup_rows=rows, processes=args.processes)  # fmt: skip
        if args.recompute_year:
            figures.update(recompute_year(url, args.recompute_year))
        print(json.dumps(figures))
    finally:
        if not args.db and not args.keep:
            drop_database(name)


def run(url: str, args: argparse.Namespace) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="clbench-baseline-") as tmp:
        sides = {"new": (ROOT, args.processes)}
        if args.baseline != "none":
            tree = baseline_tree(args.baseline, Path(tmp), "accounts", "carbonledger", "analytics")
            sides = {"base": (tree, 1), **sides}
        times: dict[str, list[float]] = {side: [] for side in sides}
        cpus: dict[str, list[tuple[float, float]]] = {side: [] for side in sides}
        first: dict[str, list[float]] = {side: [] for side in sides}
        for _ in range(args.rounds):
            for side, (path, processes) in sides.items():
                clear(url)
                change_everything(url)
                running = Side(url, path, processes)
                first[side].append(running.first)
                for _ in range(args.cycles):
                    change_everything(url)
                    wall, cpu = running.cycle()
                    times[side].append(wall)
                    cpus[side].append(cpu)
                running.close()
                snapshot(url, side)
                last = ", ".join(f"{t:.2f}" for t in times[side][-args.cycles :])
                print(f"{side}: first cycle {running.first:.2f} s, changed cycles {last} s")
    out: dict[str, object] = {}
    for side in sides:
        best = min(times[side])
        out[f"{side}_cycle_s"] = round(best, 3)
        out[f"{side}_first_cycle_s"] = round(min(first[side]), 3)
        out[f"{side}_ms_per_account"] = round(best * 1000 / (3 * args.enterprises), 3)
        # CPU of the fastest cycle, per account: the service's, and its database sessions'
        client, server = cpus[side][times[side].index(best)]
        out[f"{side}_client_cpu_ms_per_account"] = round(client * 1000 / (3 * args.enterprises), 3)
        out[f"{side}_server_cpu_ms_per_account"] = round(server * 1000 / (3 * args.enterprises), 3)
    if "base" in sides:
        out["ratio"] = round(min(times["base"]) / min(times["new"]), 2)
        diff = differences(url)
        out["differences"] = sum(v for k, v in diff.items() if not k.endswith(":rows"))
        out["compared_accounts"] = diff["account_periods:rows"]
        out["compared_grades"] = diff["grades:rows"]
        print(f"baseline {out['base_cycle_s']} s, new {out['new_cycle_s']} s:"
              f" {out['ratio']}x; differing rows {out['differences']}")  # fmt: skip
        if out["differences"]:
            print(json.dumps(out))
            raise SystemExit(f"the accounts differ from the baseline's: {diff}")
    return out


if __name__ == "__main__":
    main()
