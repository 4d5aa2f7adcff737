"""Benchmark: a regrade of every live account (``regrade_live``), baseline code vs this one.

    .venv/bin/python benchmarks/province.py --enterprises 5000 --days 1 --cycles 0 --rate 0 \\
        --stream-seconds 0 --skip-sample --db NAME          # fill NAME once (kept)
    .venv/bin/python benchmarks/regrade.py --db NAME --rounds 2

``--db`` is a database whose live accounts are stored (``province.py --db`` keeps one; it is
not changed except its ``grades``, and for ``moved`` one account's total, put back at the end).
The live periods are those of the newest month-to-date account's ``as_of``. The baseline's code
(a git ref, default ``main``, extracted with ``git archive``) and this checkout's run
``regrade_live`` alternately, each in a process of its own (``accounts run``'s grading thread
does the same in one transaction), from the same starting ``grades`` (restored before every run,
``computed_at`` set to 2000-01-01), in four cases:

- ``unchanged``: the grades as a regrade leaves them (what every grading finds when few
  accounts changed): nothing is to be rewritten;
- ``moved``: one enterprise's live accounts emit twice as much: its industry's baselines move,
  so every grade of that industry changes (K, industry L), its own L too;
- ``industries``: the same for one enterprise of every industry: every grade changes, as in a
  province's steady state, where some enterprises of each industry changed in the 30 s since
  the last grading (a steady cycle refreshes about a tenth of them);
- ``empty``: no grades stored for the live periods (the first grading): everything is written.

Both sides' resulting grades are compared row for row (every column but ``computed_at``), and
so is the set of rows each side rewrote (``computed_at`` past 2000-01-01): the run fails on
any difference. Wall time, the client's CPU and its database session's CPU (same machine) are
printed per case; the last line is one JSON object. The machine is shared: sides alternate.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
from _common import ROOT, baseline_tree, database_url

CASES = ("unchanged", "moved", "industries", "empty")
_CONTENT = (
    "enterprise_code, period_kind, period_start, model, model_version, industry_code, l_value,"
    " industry_l, k_value, grade, colour, level, basis, label, account_version"
)
_KEY = "enterprise_code, period_kind, period_start, model, model_version"
_OLD = "2000-01-01 00:00:00+00"

_WORKER = """
import json, sys, time
from datetime import datetime
import psycopg
import accounts.ledger._store as store
from carbonledger.config import AccountsSettings
from _common import process_cpu_s
assert store.__file__.startswith(sys.argv[3]), store.__file__
with psycopg.connect(sys.argv[1]) as conn:
    def cpu():
        return time.process_time(), process_cpu_s(conn.info.backend_pid)
    settings = AccountsSettings()
    conn.execute("SELECT 1")
    c0, s0 = cpu()
    began = time.perf_counter()
    with conn.transaction():
        graded = store.regrade_live(conn, settings, datetime.fromisoformat(sys.argv[2]))
    wall = time.perf_counter() - began
    c1, s1 = cpu()
print(json.dumps({"wall": wall, "client_cpu": c1 - c0, "server_cpu": s1 - s0, "graded": graded}))
"""


def live_now(conn: psycopg.Connection) -> str:
    row = conn.execute(
        "SELECT max(as_of) FROM account_periods WHERE period_kind = 'mtd' AND status = 'live'"
    ).fetchone()
    if row is None or row[0] is None:
        raise SystemExit("no live month-to-date account stored: fill the database first")
    return str(row[0].isoformat())


def regrade(url: str, now: str, path: Path) -> dict[str, float]:
    # the code under test first; this checkout's benchmarks/ for the measuring (_common)
    paths = (path, ROOT, ROOT / "benchmarks")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, paths))}
    done = subprocess.run(
        [sys.executable, "-c", _WORKER, url, now, str(path)],
        env=env,
        cwd=path,  # python -c puts the working directory first on sys.path
        check=False,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise SystemExit(f"regrade with {path} failed: {done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def restore(conn: psycopg.Connection, case: str) -> None:
    """The case's starting grades: bench_regrade_start (every row, computed_at old), minus the
    live periods' rows for ``empty``."""
    conn.execute("TRUNCATE grades")
    where = ""
    if case == "empty":
        where = (
            " WHERE (period_kind, period_start) NOT IN (SELECT DISTINCT period_kind, period_start"
            " FROM account_periods WHERE status = 'live')"
        )
    conn.execute(f"INSERT INTO grades SELECT * FROM bench_regrade_start{where}")
    conn.execute("VACUUM ANALYZE grades")


def keep(conn: psycopg.Connection, side: str) -> None:
    conn.execute(f"DROP TABLE IF EXISTS bench_regrade_{side}")
    conn.execute(f"CREATE TABLE bench_regrade_{side} AS SELECT * FROM grades")


def differences(conn: psycopg.Connection) -> dict[str, int]:
    out = {}
    for what, columns, where in (
        ("content", _CONTENT, ""),
        ("rewritten", _KEY, f" WHERE computed_at > '{_OLD}'"),
    ):
        for a, b in (("base", "new"), ("new", "base")):
            query = (
                f"SELECT count(*) FROM (SELECT {columns} FROM bench_regrade_{a}{where}"
                f" EXCEPT SELECT {columns} FROM bench_regrade_{b}{where}) x"
            )
            out[f"{what}:{a}-{b}"] = conn.execute(query).fetchone()[0]  # type: ignore[index]
    return out


def rewritten(conn: psycopg.Connection) -> int:
    row = conn.execute(f"SELECT count(*) FROM grades WHERE computed_at > '{_OLD}'").fetchone()
    return int(row[0]) if row else 0


def move(conn: psycopg.Connection, *, back: bool, every_industry: bool = False) -> None:
    """Double the exact total of one enterprise's live accounts (the median code: always the
    same; ``every_industry``: the first code of each industry), its industry's baselines move;
    ``back``: the totals as they were."""
    if back:
        conn.execute(
            "UPDATE account_periods a SET exact_total = m.exact_total FROM bench_regrade_moved m"
            " WHERE (a.enterprise_code, a.period_kind, a.period_start, a.version)"
            " = (m.enterprise_code, m.period_kind, m.period_start, m.version)"
        )
        conn.execute("DROP TABLE bench_regrade_moved")
        return
    conn.execute(
        """CREATE TABLE bench_regrade_moved AS
        SELECT enterprise_code, period_kind, period_start, version, exact_total
        FROM account_periods WHERE status = 'live' AND exact_total LIKE '%/%'
        AND enterprise_code IN ({})""".format(
            "SELECT min(enterprise_code) FROM account_periods WHERE status = 'live'"
            " GROUP BY industry_code"
            if every_industry
            else "SELECT enterprise_code FROM account_periods WHERE status = 'live'"
            " ORDER BY enterprise_code OFFSET (SELECT count(*) / 2 FROM account_periods"
            " WHERE status = 'live') LIMIT 1"
        )
    )
    conn.execute(
        "UPDATE account_periods a SET exact_total ="
        " (split_part(m.exact_total, '/', 1)::numeric * 2)::text || '/'"
        " || split_part(m.exact_total, '/', 2) FROM bench_regrade_moved m"
        " WHERE (a.enterprise_code, a.period_kind, a.period_start, a.version)"
        " = (m.enterprise_code, m.period_kind, m.period_start, m.version)"
    )


def run_case(
    url: str, now: str, sides: dict[str, Path], case: str, rounds: int
) -> dict[str, object]:
    """``rounds`` alternations of the sides on one case; fails if their grades differ."""
    out: dict[str, object] = {}
    runs: dict[str, list[dict[str, float]]] = {side: [] for side in sides}
    written: dict[str, int] = {}
    for _ in range(rounds):
        for side, path in sides.items():
            with psycopg.connect(url, autocommit=True) as conn:
                restore(conn, case)
                if case in ("moved", "industries"):
                    move(conn, back=False, every_industry=case == "industries")
            try:
                runs[side].append(regrade(url, now, path))
            finally:
                if case in ("moved", "industries"):
                    with psycopg.connect(url, autocommit=True) as conn:
                        move(conn, back=True)
            with psycopg.connect(url, autocommit=True) as conn:
                written[side] = rewritten(conn)
                keep(conn, side)
            r = runs[side][-1]
            print(f"{case} {side}: {r['wall']:.2f} s (client CPU {r['client_cpu']:.2f} s,"
                  f" server CPU {r['server_cpu']:.2f} s), {written[side]:,} rows rewritten",
                  flush=True)  # fmt: skip
    with psycopg.connect(url, autocommit=True) as conn:
        diff = differences(conn)
    for side in sides:
        best = min(runs[side], key=lambda r: r["wall"])
        out[f"{case}_{side}_s"] = round(best["wall"], 3)
        out[f"{case}_{side}_client_cpu_s"] = round(best["client_cpu"], 3)
        out[f"{case}_{side}_server_cpu_s"] = round(best["server_cpu"], 3)
        out[f"{case}_{side}_rewritten"] = written[side]
    base, new = min(r["wall"] for r in runs["base"]), min(r["wall"] for r in runs["new"])
    out[f"{case}_ratio"] = round(base / new, 2)
    out[f"{case}_differences"] = sum(diff.values())
    print(f"{case}: baseline {base:.3f} s, new {new:.3f} s: {base / new:.2f}x;"
          f" differing rows {sum(diff.values())}", flush=True)  # fmt: skip
    if sum(diff.values()):
        print(json.dumps(out))
        raise SystemExit(f"{case}: the grades differ from the baseline's: {diff}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True, help="a database with live accounts stored")
    parser.add_argument("--baseline", default="main", help="git ref of the baseline")
    parser.add_argument("--rounds", type=int, default=2, help="baseline/new alternations")
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated cases")
    args = parser.parse_args()
    url = database_url(args.db)
    out: dict[str, object] = {"db": args.db}
    with psycopg.connect(url, autocommit=True) as conn:
        now = live_now(conn)
        live = conn.execute("SELECT count(*) FROM account_periods WHERE status = 'live'")
        out["live_accounts"] = live.fetchone()[0]  # type: ignore[index]
    with tempfile.TemporaryDirectory(prefix="clbench-baseline-") as tmp:
        tree = baseline_tree(args.baseline, Path(tmp), "accounts", "carbonledger", "analytics")
        sides = {"base": tree, "new": ROOT}
        with psycopg.connect(url, autocommit=True) as conn:
            regrade(url, now, tree)  # the grades as a regrade leaves them: the starting point
            conn.execute("DROP TABLE IF EXISTS bench_regrade_start")
            conn.execute("CREATE TABLE bench_regrade_start AS SELECT * FROM grades")
            conn.execute(f"UPDATE bench_regrade_start SET computed_at = '{_OLD}'")
        try:
            for case in (c for c in args.cases.split(",") if c):
                out.update(run_case(url, now, sides, case, args.rounds))
        finally:
            with psycopg.connect(url, autocommit=True) as conn:
                restore(conn, "unchanged")
                for table in ("start", "base", "new"):
                    conn.execute(f"DROP TABLE IF EXISTS bench_regrade_{table}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
