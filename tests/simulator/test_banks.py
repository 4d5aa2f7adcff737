"""The simulated banks' books: valid through finance's own rules, idempotent, moving monthly."""

from __future__ import annotations

from datetime import date

import psycopg

from finance import financed_book
from simulator import build_city
from simulator.banks import BANKS, month_ends, register_loans
from simulator.registry import register_city, register_economics

TODAY = date(2026, 3, 10)


def test_two_banks_books_at_three_month_ends(db_url: str) -> None:
    city = build_city(12, 11)
    with psycopg.connect(db_url, autocommit=True) as conn:
        register_city(conn, city)
        register_economics(conn, city, TODAY)
        for bank, name in BANKS.items():
            conn.execute("INSERT INTO banks (id, name) VALUES (%s, %s)", (bank, name))
        written = register_loans(conn, city, TODAY)
        assert set(written) == set(BANKS) and all(n > 0 for n in written.values())
        assert register_loans(conn, city, TODAY) == dict.fromkeys(BANKS, 0)  # idempotent
        dates = [r[0] for r in conn.execute("SELECT DISTINCT as_of FROM loans ORDER BY 1")]
        assert dates == month_ends(TODAY) == [date(2025, 12, 31), date(2026, 1, 31),
                                              date(2026, 2, 28)]  # fmt: skip
        sheets = conn.execute(
            "SELECT count(*) FILTER (WHERE total_equity IS NOT NULL), count(*) FROM economic_data"
            " WHERE period_kind = 'year'"
        ).fetchone()
        assert sheets is not None and 0 < sheets[0] <= sheets[1]
        book = financed_book(conn, "sim-bank-a", as_of=date(2026, 2, 28))
        january = financed_book(conn, "sim-bank-a", as_of=date(2026, 1, 31))
        assert book.metrics.outstanding_yuan < january.metrics.outstanding_yuan  # paid down
        assert {f.status.value for f in book.loans} == {"no_consent"}  # no consent granted here
