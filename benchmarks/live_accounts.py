"""Benchmark: live accounts for a simulated city, the service's cached refresh vs a full one.

    .venv/bin/python benchmarks/live_accounts.py                    # 50 enterprises, 12 months
    .venv/bin/python benchmarks/live_accounts.py --enterprises 200 --months 6

A scratch database gets the simulated city (``--enterprises``) and 15-minute rollups for every
meter over ``--months`` months up to ``NOW`` (``simulate history``'s writer, COPY). Then:

- baseline: ``refresh_live`` of every enterprise reading all its activity from the rollups
  (what a refresh without the service's cache costs: rolling 12 months of buckets);
- service: ``LiveAccounts`` after its first cycle, with every enterprise changed (each cycle
  re-reads only the current month, past months come from its cache);
- reads: ``get_account`` of a stored month-to-date account (what the API serves) vs computing
  the same account on demand.

The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import uuid
from datetime import datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from accounts.ledger import Period, get_account, load_factors, refresh_live
from accounts.ledger._compute import compute_account
from accounts.ledger._period import add_months, month_start
from accounts.ledger._read import load_library, read_inputs
from accounts.ledger.service import LiveAccounts
from carbonledger.config import AccountsSettings
from carbonledger.db import migrate
from carbonledger.tz import SHANGHAI
from simulator.city import build_city
from simulator.history import write_city_history
from simulator.registry import register_city, register_economics

ADMIN_URL = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=SHANGHAI)


def scratch(name: str) -> str:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return urlunsplit(urlsplit(ADMIN_URL)._replace(path=f"/{name}"))


def drop(name: str) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def fill(url: str, enterprises: int, months: int) -> int:
    city = build_city(enterprises, 2026)
    first = add_months(month_start(NOW.date()), -(months - 1))
    with psycopg.connect(url) as conn:
        load_factors(conn)
        register_city(conn, city)
        register_economics(conn, city, NOW.date())
        conn.commit()
        # whole days through NOW's day: the accounts are computed as of NOW, later buckets unused
        report = write_city_history(conn, city, first, NOW.date() + timedelta(days=1))
    return report.rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--enterprises", type=int, default=50)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--cycles", type=int, default=3)
    args = parser.parse_args()
    name = f"clbench_accounts_{uuid.uuid4().hex[:8]}"
    url = scratch(name)
    try:
        migrate(url, timescaledb="off")
        rows = fill(url, args.enterprises, args.months)
        print(f"{rows:,} rollup rows for {args.enterprises} enterprises, {args.months} months")
        settings = AccountsSettings()
        with psycopg.connect(url, autocommit=True) as conn:
            began = time.perf_counter()
            refresh_live(conn, settings, now=NOW)
            full = time.perf_counter() - began
        print(f"baseline: full refresh (all activity read) {full:.2f} s")

        service = LiveAccounts(url, settings)
        with psycopg.connect(url) as conn:
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            service.cycle(conn, NOW)  # fills the cache of past months
            timings = []
            codes = [e.code for e in build_city(args.enterprises, 2026).enterprises]
            for _ in range(args.cycles):
                with conn.transaction():
                    began = time.perf_counter()
                    activity = service._activities(conn, codes, NOW, month_start(NOW.date()))
                    refresh_live(conn, settings, codes, now=NOW, activity=activity)
                    timings.append(time.perf_counter() - began)
        cached = min(timings)
        print(f"service: refresh of every enterprise from its cache {cached:.2f} s "
              f"({full / cached:.1f}x faster)")  # fmt: skip

        mtd = Period.mtd(NOW)
        with psycopg.connect(url, autocommit=True) as conn:
            code = codes[0]
            began = time.perf_counter()
            for _ in range(20):
                get_account(conn, code, mtd)
            stored = (time.perf_counter() - began) / 20
            library = load_library(conn, settings)
            began = time.perf_counter()
            for _ in range(5):
                inputs = read_inputs(conn, [code], [mtd], NOW).of(code, mtd)
                compute_account(inputs, mtd, library, as_of=NOW)
            computed = (time.perf_counter() - began) / 5
        print(f"read: stored mtd account {stored * 1000:.1f} ms, computed {computed * 1000:.1f} ms")
        print(json.dumps({
            "enterprises": args.enterprises, "months": args.months, "rollup_rows": rows,
            "full_refresh_s": round(full, 3), "cached_refresh_s": round(cached, 3),
            "ratio": round(full / cached, 2), "stored_read_ms": round(stored * 1000, 2),
            "computed_read_ms": round(computed * 1000, 2),
        }))  # fmt: skip
    finally:
        drop(name)


if __name__ == "__main__":
    main()
