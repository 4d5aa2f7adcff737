"""Two simulated banks' loan books over the simulated city, for the demo and its cockpit.

Deterministic like the city: each enterprise's loans come from its own random stream (seed,
bank, code), so a test city's books are a prefix of the demo city's. Each bank lends to about
two thirds of the enterprises (one or two loans: 碳效贷, green loans by category, working
capital) and reports its book at the end of each of the last three months, paying down a
little each month, so the books move month over month. The rows go through finance's one
validation and its one writer (:func:`finance.apply_loans`); the banks must exist (the demo
creates them with their API keys).
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg

from carbonledger.csvfile import Problems
from finance import apply_loans, validate_loans

from .city import City

BANKS = {"sim-bank-a": "模拟城市商业银行", "sim-bank-b": "模拟农村商业银行"}
"""bank id -> name: the demo's two lenders (not real banks)."""
_PRODUCTS = (
    ("碳效贷", None, "技术改造"),
    ("绿色贷款", "节能环保", "余热回收与电机改造"),
    ("绿色贷款", "清洁能源", "屋顶光伏"),
    ("流动资金贷款", None, "原材料采购"),
)
SOURCE = "simulator"


def month_ends(today: date, months: int = 3) -> list[date]:
    """The last day of each of the ``months`` months before ``today``'s, oldest first."""
    out, end = [], today.replace(day=1) - timedelta(days=1)
    for _ in range(months):
        out.append(end)
        end = end.replace(day=1) - timedelta(days=1)
    return out[::-1]


def loan_rows(city: City, bank: str, today: date) -> list[tuple[int, dict[str, str]]]:
    """The bank's book at each of the last three month ends, as loan-CSV rows."""
    rows: list[tuple[int, dict[str, str]]] = []
    dates = month_ends(today)
    for enterprise in city.enterprises:
        rng = random.Random(f"{city.seed}:{bank}:{enterprise.code}")
        if rng.random() > 0.67:
            continue
        for n in range(1 + (rng.random() < 0.4)):
            product, green, purpose = rng.choice(_PRODUCTS)
            committed = Decimal(rng.randrange(50, 800) * 10_000)
            start = dates[0] - timedelta(days=rng.randrange(30, 900))
            years = rng.randrange(1, 6)
            maturity = start.replace(year=start.year + years, day=min(start.day, 28))
            for month, as_of in enumerate(dates):
                paid = Decimal(1) - Decimal(month) * Decimal("0.02")
                rows.append(
                    (len(rows) + 2, {
                        "loan_id": f"{bank}-{enterprise.code[-8:]}-{n + 1}",
                        "borrower_credit_code": enterprise.code, "product": product,
                        "green_category": green or "", "purpose": purpose,
                        "outstanding_yuan": str((committed * Decimal("0.9") * paid).quantize(
                            Decimal("0.01"))),
                        "committed_yuan": str(committed), "currency": "CNY",
                        "start_date": start.isoformat(), "maturity_date": maturity.isoformat(),
                        "interest_rate": str(Decimal(rng.randrange(300, 480)) / 100),
                        "as_of": as_of.isoformat(), "project_id": "",
                    })
                )  # fmt: skip
    return rows


def register_loans(conn: psycopg.Connection, city: City, today: date) -> dict[str, int]:
    """Write both banks' books (idempotent); bank id -> loans added or changed."""
    out = {}
    codes = frozenset(e.code for e in city.enterprises)
    for bank in BANKS:
        problems = Problems(_label(bank))
        records = validate_loans(loan_rows(city, bank, today), problems, today, registered=codes)
        problems.raise_if_any()
        report = apply_loans(conn, bank, records, path=str(_label(bank)), source=SOURCE)
        out[bank] = report.count("loan", "added") + report.count("loan", "updated")
    return out


def _label(bank: str) -> Path:
    return Path(f"(simulated book of {bank})")
