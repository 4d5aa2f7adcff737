"""The climate-finance cockpit's panel SQL against real data, on each storage path.

The hand-computed books (tests/finance/helpers.py: bank-a's six loans, bank-b's one) over the
ledger's closed 2025 accounts, published by ``finance publish``; each panel's query expanded as
Grafana expands it and run; the totals checked against the books.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest

from dashboards import DASHBOARDS, Dashboard, Panel
from finance import city_totals, publish
from tests.dashboards.grafana_macros import Request, expand
from tests.finance.helpers import build

FINANCE = next(d for d in DASHBOARDS if d.uid == "carbonledger-finance")
REQUEST = Request(
    datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 2, 5, tzinfo=UTC), timedelta(days=1)
)


@pytest.fixture
def published(storage_db_url: str) -> Iterator[str]:
    with psycopg.connect(storage_db_url, autocommit=True) as conn:
        build(conn)
        assert publish(conn, 2025) == 7
    yield storage_db_url


def run(url: str, panel: Panel) -> tuple[list[str], list[tuple]]:  # type: ignore[type-arg]
    (query,) = panel.queries
    with psycopg.connect(url) as conn:
        cur = conn.execute(expand(query.sql, REQUEST))  # type: ignore[call-overload]
        assert cur.description is not None
        return [c.name for c in cur.description], cur.fetchall()


def _panel(dashboard: Dashboard, title: str) -> Panel:
    return next(p for p in dashboard.panels if p.title.startswith(title))


def test_every_panel_returns_rows(published: str) -> None:
    for panel in FINANCE.panels:
        columns, rows = run(published, panel)
        assert rows, panel.title
        assert len(set(columns)) == len(columns), columns


def test_the_totals_are_the_books(published: str) -> None:
    _, [(outstanding, green)] = run(published, _panel(FINANCE, "Loans outstanding"))
    assert (outstanding, green) == (Decimal(22_000_000), Decimal(2_500_000))  # 17 + 5 million
    _, [(financed, coverage)] = run(published, _panel(FINANCE, "Financed emissions"))
    with psycopg.connect(published) as conn:
        assert financed == city_totals(conn, 2025).financed_tco2
    # every loan but L5 (D: no economic data) and L6 (not on the platform) has a figure
    assert abs(coverage - Decimal(20) / Decimal(22)) < Decimal("1e-15")
    _, rows = run(published, _panel(FINANCE, "Watchlist"))
    assert sorted((r[0], r[1]) for r in rows) == [("丽水乙银行", "L1"), ("丽水甲银行", "L1")]
    _, rows = run(published, _panel(FINANCE, "Green loan balance"))
    assert rows == [("绿色贷款", Decimal(2_500_000))]
    _, rows = run(published, _panel(FINANCE, "Loan books over time"))
    assert [r[1] for r in rows] == [Decimal(22_000_000)]
