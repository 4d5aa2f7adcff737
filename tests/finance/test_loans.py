"""Loan-book imports: every bad line named, nothing half-written, re-import idempotent."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from carbonledger import uscc
from carbonledger.errors import InvalidImportError
from finance import UnknownBankError, import_loans, read_loans

BORROWER = uscc.make_code("91331102MA2A0LN01")
HEADER = (
    "loan_id,borrower_credit_code,product,green_category,purpose,outstanding_yuan,"
    "committed_yuan,currency,start_date,maturity_date,interest_rate,as_of,project_id\n"
)
TODAY = date(2026, 12, 1)


def book(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "book.csv"
    path.write_text(HEADER + "".join(r + "\n" for r in rows), encoding="utf-8")
    return path


GOOD = f"L-1,{BORROWER},碳效贷,,流动资金,1000000,2000000,CNY,2025-01-10,2027-01-09,3.45,2025-12-31,"


def test_every_bad_field_of_every_line_is_named(tmp_path: Path) -> None:
    path = book(
        tmp_path,
        GOOD,
        f"L-2,{BORROWER[:-1]}0,,,x,abc,100,USD,2025-13-01,2024-01-01,101,2025-12-31,",
        f"L-3,{BORROWER},碳效贷,,x,300,100,CNY,2026-01-01,2027-01-01,3,2025-12-31,",
        GOOD,
    )
    with pytest.raises(InvalidImportError) as caught:
        read_loans(path, TODAY)
    text = "\n".join(caught.value.problems)
    for expected in (
        ":3: borrower_credit_code: ",
        ":3: product: missing",
        ":3: outstanding_yuan: 'abc' is not a number",
        ":3: currency: 'USD'",
        ":3: start_date: '2025-13-01' is not a date",
        ":3: interest_rate: 101 is not a percentage",
        ":4: outstanding_yuan: 300 exceeds the committed amount 100",
        ":4: start_date: 2026-01-01 is after the as-of date 2025-12-31",
        ":5: loan_id: L-1 as of 2025-12-31 is also at line 2",
    ):
        assert expected in text, (expected, text)


def test_import_writes_all_or_nothing_and_again_changes_nothing(
    db_url: str, tmp_path: Path
) -> None:
    with psycopg.connect(db_url) as conn:
        conn.execute("INSERT INTO banks (id, name) VALUES ('bank-a', '甲银行')")
        with pytest.raises(UnknownBankError):
            import_loans(conn, "bank-z", book(tmp_path, GOOD), today=TODAY)
        first = import_loans(conn, "bank-a", book(tmp_path, GOOD), today=TODAY)
        assert first.count("loan", "added") == 1
        again = import_loans(conn, "bank-a", book(tmp_path, GOOD), today=TODAY)
        assert again.count("loan", "unchanged") == 1
        changed = import_loans(
            conn, "bank-a", book(tmp_path, GOOD.replace(",1000000,", ",900000,")), today=TODAY
        )
        assert changed.count("loan", "updated") == 1
        assert "outstanding_yuan 1000000 -> 900000" in str(changed.changes[0])
        with pytest.raises(InvalidImportError):
            import_loans(conn, "bank-a", book(tmp_path, GOOD, "L-9,x"), today=TODAY)
        rows = conn.execute("SELECT loan_id, outstanding_yuan FROM loans").fetchall()
        assert rows == [("L-1", Decimal(900000))]
