"""A bank's 100,000-loan book over 50,000 enterprises: import, then its financed emissions.

    .venv/bin/python benchmarks/finance.py [--loans 100000] [--enterprises 50000]

In a scratch plain-PostgreSQL database: ``--enterprises`` registered enterprises with a closed
2025 annual account, a balance sheet (2 % listed with EVIC, 5 % total assets only, 10 % revenue
only), annual grades for 2024 and 2025, and the bank's consent for 90 % of them; then

* import: ``--loans`` loans (two per enterprise) through finance's one validation and one
  transaction (``validate_loans`` + ``apply_loans``), what ``finance import`` does after reading;
* book: ``financed_book`` for 2025: the reads in bulk, each loan's exact attribution, score and
  standing, the portfolio metrics (what ``finance book`` and ``/v1/loans/book`` compute);
* publish: the same for the regulator, stored in ``loan_figures`` (``finance publish``).

The setup (enterprises, accounts, grades) is written with SQL and is not timed. Prints each
figure and, last, one JSON line. Timings on a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import psycopg
from _common import scratch_database  # before this folder leaves sys.path

# Run as a script, this folder comes first on sys.path: keep it from shadowing packages.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

from carbonledger.csvfile import Problems
from carbonledger.db import migrate
from finance import apply_loans, financed_book, publish, validate_loans

BANK = "bench-bank"

_SETUP = [
    "INSERT INTO enterprises (code, name, industry_code, district)"
    " SELECT '913311' || lpad(g::text, 11, '0') || 'X', 'e' || g,"
    " (ARRAY['3011', '1713', '3670', '2614', '4411', '3130'])[1 + g % 6], '莲都区'"
    " FROM generate_series(1, %(n)s) g",
    "INSERT INTO economic_data (enterprise_code, period_kind, period_start, value_added,"
    " revenue, total_assets, total_equity, total_debt, evic)"
    " SELECT code, 'year', '2025-01-01', 100 + g % 900, 400 + g % 3000,"
    " CASE WHEN g % 100 BETWEEN 10 AND 14 THEN 5000 + g % 7000 END,"
    " CASE WHEN g % 100 >= 15 THEN 2000 + g % 5000 END,"
    " CASE WHEN g % 100 >= 15 THEN 1000 + g % 4000 END,"
    " CASE WHEN g % 100 < 2 THEN 20000 + g % 9000 END"
    " FROM (SELECT code, row_number() OVER (ORDER BY code) g FROM enterprises) e",
    "INSERT INTO account_periods (enterprise_code, period_kind, period_start, version,"
    " period_end, status, as_of, tco2_total, tco2_scope1, tco2_scope2,"
    " tco2_own_generation_avoided, tce_equivalent, tce_equal, coverage, estimated_share,"
    " offline_meters, detail)"
    " SELECT code, 'year', '2025-01-01', 1, '2026-01-01', 'closed', '2026-01-05',"
    " (g % 5000) * 1.5 + (g % 3000) * 0.75, (g % 5000) * 1.5, (g % 3000) * 0.75, 0, g % 4000,"
    " g % 4000, CASE WHEN g % 10 = 0 THEN 0.7 ELSE 0.97 END, 0, 0,"
    " jsonb_build_object('two_high', g % 20 = 0)"
    " FROM (SELECT code, row_number() OVER (ORDER BY code) g FROM enterprises) e",
    "INSERT INTO grades (enterprise_code, period_kind, period_start, model, model_version,"
    " industry_code, grade, level, label, account_version)"
    " SELECT code, 'year', y, 'huzhou', 'huzhou-2021', industry_code,"
    " 1 + (g + extract(year FROM y)::int) % 5, '中碳', 'x', 1"
    " FROM (SELECT code, industry_code, row_number() OVER (ORDER BY code) g FROM enterprises) e,"
    " (VALUES ('2024-01-01'::date), ('2025-01-01'::date)) v(y)",
    "INSERT INTO banks (id, name) VALUES ('bench-bank', '基准银行')",
    "INSERT INTO consents (enterprise_code, bank_id, scope, expires_at, granted_by)"
    " SELECT code, 'bench-bank', '{account}', now() + interval '1 year', 'bench'"
    " FROM (SELECT code, row_number() OVER (ORDER BY code) g FROM enterprises) e"
    " WHERE g % 10 <> 3",
]


def _loans(codes: list[str], count: int) -> list[tuple[int, dict[str, str]]]:
    rows = []
    for i in range(count):
        code = codes[i % len(codes)]
        rows.append(
            (i + 2, {
                "loan_id": f"B-{i:07d}", "borrower_credit_code": code,
                "product": ("碳效贷", "绿色贷款", "流动资金贷款")[i % 3],
                "green_category": "节能环保" if i % 3 == 1 else "", "purpose": "",
                "outstanding_yuan": str(100_000 + (i * 7919) % 9_900_000),
                "committed_yuan": "10000000", "currency": "CNY",
                "start_date": ("2023-06-01", "2024-03-15", "2025-02-01")[i % 3],
                "maturity_date": "2028-12-31", "interest_rate": "3.45", "as_of": "2025-12-31",
                "project_id": "",
            })
        )  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loans", type=int, default=100_000)
    parser.add_argument("--enterprises", type=int, default=50_000)
    args = parser.parse_args()
    with scratch_database(f"clbench_finance_{os.getpid()}", replace=True) as url:
        migrate(url, timescaledb="off")
        with psycopg.connect(url, autocommit=True) as conn:
            began = time.perf_counter()
            for statement in _SETUP:
                # no parameters: psycopg leaves the SQL's % operators alone
                conn.execute(statement.replace("%(n)s", str(int(args.enterprises))).encode())
            setup_s = time.perf_counter() - began
            codes = [r[0] for r in conn.execute("SELECT code FROM enterprises ORDER BY code")]
            rows = _loans(codes, args.loans)
            began = time.perf_counter()
            problems = Problems(Path("bench"))
            records = validate_loans(rows, problems, registered=frozenset(codes))
            problems.raise_if_any()
            report = apply_loans(conn, BANK, records)
            import_s = time.perf_counter() - began
            assert report.count("loan", "added") == args.loans
            began = time.perf_counter()
            book = financed_book(conn, BANK, year=2025)
            book_s = time.perf_counter() - began
            began = time.perf_counter()
            published = publish(conn, 2025)
            publish_s = time.perf_counter() - began
    m = book.metrics
    print(f"setup    {args.enterprises:,} enterprises, accounts, grades (SQL)   {setup_s:8.1f} s")
    print(f"import   {args.loans:,} loans: validate + one transaction        {import_s:8.1f} s")
    print(f"book     financed emissions of the book, exact                {book_s:8.1f} s")
    print(f"publish  the regulator's figures into loan_figures            {publish_s:8.1f} s")
    print(
        f"book: {m.loans:,} loans, {m.financed_tco2:,.3f} tCO2 financed,"
        f" coverage {m.coverage:.3f}, watchlist {len(book.watchlist):,}"
    )
    print(
        json.dumps(
            {
                "benchmark": "finance",
                "loans": args.loans,
                "enterprises": args.enterprises,
                "import_s": round(import_s, 2),
                "book_s": round(book_s, 2),
                "publish_s": round(publish_s, 2),
                "published": published,
                "financed_tco2": str(m.financed_tco2),
            }
        )
    )


if __name__ == "__main__":
    main()
