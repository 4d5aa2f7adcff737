"""The live service keeps the current month's sums up to a frontier 75 minutes back."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal

import psycopg
import pytest

from accounts.ledger import Period, get_account
from accounts.ledger._month_cache import combine, frontier
from accounts.ledger._period import month_start
from accounts.ledger._read import read_activities
from accounts.ledger.service import LiveAccounts
from carbonledger.config import AccountsSettings
from tests.accounts.ledger.helpers import PARTS, local, register
from tests.accounts.ledger.test_service import _drain, _write

PER_KWH = Decimal("0.4974") / 1000  # tCO2 per kWh (Zhejiang 2023 average, the reference)


@pytest.fixture
def url(db_url: str) -> Iterator[str]:
    with psycopg.connect(db_url, autocommit=True) as conn:
        register(conn, [PARTS])
    yield db_url


def test_the_frontier_is_a_bucket_boundary_75_minutes_back_within_the_month() -> None:
    assert frontier(local("2026-11-20 10:00"), month_start(local("2026-11-20 10:00").date())) == (
        local("2026-11-20 08:45")
    )
    assert frontier(local("2026-11-20 10:07"), month_start(local("2026-11-20 10:07").date())) == (
        local("2026-11-20 08:45")
    )
    early = local("2026-11-01 00:30")
    assert frontier(early, month_start(early.date())) == local("2026-11-01 00:00")


def test_sums_of_two_ranges_are_the_sums_of_their_union(url: str) -> None:
    _write(url, local("2026-11-20 07:50"), 100.0, 240)  # 07:50..08:50, across buckets and F
    _drain(url)
    lo, mid, hi = local("2026-11-01 00:00"), local("2026-11-20 08:15"), local("2026-11-20 10:00")
    with psycopg.connect(url) as conn:
        whole = read_activities(conn, [PARTS], lo, hi)[PARTS]
        parts = combine(
            read_activities(conn, [PARTS], lo, mid)[PARTS],
            read_activities(conn, [PARTS], mid, hi)[PARTS],
        )
    assert sorted(parts, key=repr) == sorted(whole, key=repr)
    assert len(whole) == 1 and whole[0].buckets == 5


def _mtd(url: str, now: datetime) -> dict[str, object]:
    with psycopg.connect(url, autocommit=True) as reader:
        return get_account(reader, PARTS, Period.mtd(now)).model_dump(exclude={"grades"})


def _from_scratch(url: str, now: datetime) -> dict[str, object]:
    """The month-to-date account of a new service (nothing kept: the month read at once)."""
    with psycopg.connect(url) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        LiveAccounts(url, AccountsSettings()).cycle(conn, now)
    return _mtd(url, now)


def test_kept_sums_give_the_accounts_of_a_whole_read(url: str) -> None:
    service = LiveAccounts(url, AccountsSettings())
    now = local("2026-11-20 10:00")  # frontier 08:45
    _write(url, local("2026-11-20 07:00"), 100.0, 61)  # 07:00..07:15: 15 kWh, kept
    _drain(url)
    with psycopg.connect(url) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        service.cycle(conn, now)
        assert _mtd(url, now)["totals"]["total"] == 15 * PER_KWH  # type: ignore[index]
        steps = [
            (now, local("2026-11-20 09:30"), 200.0, 61),  # after the frontier
            (now, local("2026-11-20 07:15:15"), 115.25, 60),  # reaches back before it
            (now + timedelta(hours=1), local("2026-11-20 10:30"), 215.0, 5),  # frontier moves
        ]
        for at, start, value, count in steps:
            _write(url, start, value, count)
            _drain(url)
            assert service.cycle(conn, at).refreshed == 1
            kept = _mtd(url, at)
            assert kept == _from_scratch(url, at), start
