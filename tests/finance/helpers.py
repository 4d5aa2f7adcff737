"""A hand-computed loan book over real closed accounts (the ledger's own close of 2025).

Borrowers (2025, money in 万元):
- A = PARTS (3670), every meter covered all year, 1 kWh imported per 15 minutes: 35,040 kWh,
  scope 2 = 35.04 MWh x 0.4974 (Zhejiang 2023) = 17.428896 tCO2; verified by a third party;
  equity 3000 + debt 2000; revenue 400, value added 100; annual grades 2023: 3, 2024: 2.
- B = CEMENT (3011, division 30: high-carbon, 两高 with a tiny threshold), listed: EVIC 8000
  (equity 1000 + debt 1000 also given: EVIC wins); revenue 600, value added 20; electricity
  2 kWh per 15 minutes all year (70.08 MWh, 34.857792 tCO2) and 6 t diesel in twelve buckets;
  its CEMS stack never reports, so coverage is about a third (score 3).
- C = DYEING (1713), every meter covered all year, 1 kWh per 15 minutes (17.428896 tCO2), no
  balance sheet: revenue 250 x the all-division ratio (5000 + 2000) / (400 + 600) = 7.
- D (2511), registered, no consent for bank-a.
- E, not registered on the platform.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import psycopg

from accounts.ledger import Period, close
from accounts.registry import Problems, apply_economics, validate_economics
from carbonledger import uscc
from carbonledger.config import AccountsSettings
from finance import apply_loans, validate_loans
from tests.accounts.ledger.helpers import CEMENT, DYEING, PARTS, local, register

NOW = local("2026-02-05 10:00")
A, B, C = PARTS, CEMENT, DYEING
D = uscc.make_code("91331102MA2A0DDD0")
E = uscc.make_code("91331102MA2A0EEE0")
BANK, OTHER_BANK = "bank-a", "bank-b"
AS_OF = date(2025, 12, 31)

DIESEL = Fraction("42.652") * Fraction("20.2") / 1000 * Fraction("0.98") * Fraction(44, 12)
S2_A = Fraction("17.428896")
S1_B, S2_B = 6 * DIESEL, Fraction("34.857792")
S2_C = Fraction("17.428896")

HEADER = (
    "loan_id", "borrower_credit_code", "product", "green_category", "purpose",
    "outstanding_yuan", "committed_yuan", "currency", "start_date", "maturity_date",
    "interest_rate", "as_of", "project_id",
)  # fmt: skip
LOANS = [
    ("L1", A, "碳效贷", "", "技改", "5000000", "6000000", "CNY", "2025-03-01", "2028-02-28", "3.2"),
    ("L2", A, "绿色贷款", "节能环保", "余热回收", "2500000", "2500000", "CNY", "2024-06-01",
     "2029-05-31", "2.9"),
    ("L3", B, "流动资金贷款", "", "周转", "4000000", "5000000", "CNY", "2025-01-15", "2026-01-14",
     "3.8"),
    ("L4", C, "碳效贷", "", "设备", "3500000", "3500000", "CNY", "2025-05-20", "2027-05-19",
     "3.5"),
    ("L5", D, "流动资金贷款", "", "周转", "1000000", "1000000", "CNY", "2025-02-01",
     "2026-01-31", "4.1"),
    ("L6", E, "流动资金贷款", "", "周转", "1000000", "1000000", "CNY", "2025-02-01",
     "2026-01-31", "4.1"),
]  # fmt: skip

_FILL = """
INSERT INTO rollups_15m (bucket, enterprise_code, meter_id, quantity, activity_fp, covered_ms,
                         estimated_ms, readings_good)
SELECT t, m.enterprise_code, m.id, m.quantity, %s, 900000, 0, 60
FROM meters m,
     generate_series('2025-01-01 00:00+08'::timestamptz, '2025-12-31 23:45+08', '15 min') t
WHERE m.id = %s
"""


def fill(conn: psycopg.Connection, meter: str, activity_fp: int) -> None:
    """Every 15-minute bucket of 2025 covered, ``activity_fp`` (1/10,000 of a unit) each."""
    conn.execute(_FILL, (activity_fp, meter))


def loan_rows(rows: list[tuple[str, ...]], as_of: date = AS_OF) -> list[tuple[int, dict[str, str]]]:
    return [
        (i, dict(zip(HEADER, (*row, as_of.isoformat(), ""), strict=True)))
        for i, row in enumerate(rows, start=2)
    ]


def build(conn: psycopg.Connection) -> None:
    """The book of bank-a at 2025-12-31 over closed, graded 2025 accounts."""
    register(conn, [A, B, C])
    for code, industry in ((D, "2511"),):
        conn.execute(
            "INSERT INTO enterprises (code, name, industry_code, district)"
            " VALUES (%s, '丽水某化工有限公司', %s, '莲都区')",
            (code, industry),
        )
    for meter in ("prt-el1", "dye-el1"):
        fill(conn, meter, 10_000)  # 1 kWh
    for meter in ("prt-pv1", "dye-gas1", "dye-dsl1", "dye-stm1"):
        fill(conn, meter, 0)
    fill(conn, "cem-el1", 20_000)  # 2 kWh
    for hour in range(12):
        conn.execute(
            "INSERT INTO rollups_15m (bucket, enterprise_code, meter_id, quantity, activity_fp,"
            " covered_ms, estimated_ms, readings_good)"
            " VALUES (%s, %s, 'cem-dsl1', 'diesel_mass', 5000, 900000, 0, 60)",
            (local(f"2025-04-{hour + 1:02d} 08:00"), B),
        )
    economics(conn)
    close(conn, Period.parse("2025", NOW), AccountsSettings(two_high_tce=Decimal("0.001")),
          now=NOW)  # fmt: skip
    for year, grade in ((2023, 3), (2024, 2)):  # A's earlier annual grades, as recorded then
        conn.execute(
            "INSERT INTO grades (enterprise_code, period_kind, period_start, model, model_version,"
            " industry_code, grade, level, label, account_version)"
            " VALUES (%s, 'year', %s, 'huzhou', 'huzhou-2021', '3670', %s, '低碳', 'x', 1)",
            (A, date(year, 1, 1), grade),
        )
    verify(conn, A, 2025)
    banks(conn)
    problems = Problems(Path("book"))
    records = validate_loans(loan_rows(LOANS), problems, registered={A, B, C, D})
    assert problems.kept == []
    apply_loans(conn, BANK, records)
    other = validate_loans(loan_rows([LOANS[0]]), problems, registered={A})
    apply_loans(conn, OTHER_BANK, other)


def economics(conn: psycopg.Connection) -> None:
    columns = ("enterprise_code", "period", "value_added", "revenue", "output_quantity",
               "output_unit", "total_assets", "total_equity", "total_debt", "evic")  # fmt: skip
    rows = [
        (A, "2025", "100", "400", "", "", "", "3000", "2000", ""),
        (B, "2025", "20", "600", "", "", "9000", "1000", "1000", "8000"),
        (C, "2025", "50", "250", "", "", "", "", "", ""),
    ]
    problems = Problems(Path("economics"))
    records = validate_economics(
        [(i, dict(zip(columns, row, strict=True))) for i, row in enumerate(rows, start=2)],
        problems,
        date(2026, 2, 5),
        registered={A, B, C},
    )
    assert problems.kept == []
    apply_economics(conn, Path("economics"), records)


def verify(conn: psycopg.Connection, code: str, year: int) -> None:
    conn.execute("INSERT INTO verifiers (id, name) VALUES ('verify-a', '核查中心')")
    (assignment,) = conn.execute(
        "INSERT INTO verification_assignments (verifier_id, enterprise_code, year, assigned_at,"
        " assigned_by) VALUES ('verify-a', %s, %s, now(), 'test') RETURNING id",
        (code, year),
    ).fetchone()  # type: ignore[misc]
    conn.execute(
        "INSERT INTO verification_statements (assignment_id, account_version, conclusion,"
        " summary, signed_at, signed_by) VALUES (%s, 1, 'verified', 'ok', now(), 'v')",
        (assignment,),
    )


def banks(conn: psycopg.Connection) -> None:
    for bank, name in ((BANK, "丽水甲银行"), (OTHER_BANK, "丽水乙银行")):
        conn.execute("INSERT INTO banks (id, name) VALUES (%s, %s)", (bank, name))
    for code in (A, B, C):
        conn.execute(
            "INSERT INTO consents (enterprise_code, bank_id, scope, granted_at, expires_at,"
            " granted_by) VALUES (%s, %s, '{account}', now() - interval '1 day',"
            " now() + interval '1 year', 'test')",
            (code, BANK),
        )


def apply_book_at(conn: psycopg.Connection, rows: list[tuple[str, ...]], as_of: date) -> None:
    """Part of the book reported again at another date."""
    problems = Problems(Path("book"))
    records = validate_loans(loan_rows(rows, as_of), problems, registered={A, B, C, D})
    assert problems.kept == []
    apply_loans(conn, BANK, records)
