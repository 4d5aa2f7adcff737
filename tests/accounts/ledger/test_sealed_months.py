"""Whole sealed months are read from their stored sums, the rest from the buckets: the same
activity, hence the same accounts, as reading every 15-minute rollup."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date

import psycopg
import pytest

from accounts.ledger import Period, get_account
from accounts.ledger._read import read_activities, sealed_span
from analytics._months import seal
from analytics.history import Series, write_history
from tests.accounts.ledger.helpers import PARTS, local, register

NOW = local("2026-03-05 12:00")
RANGES = [
    (local("2025-12-01 00:00"), NOW),  # three whole months and a partial one
    (local("2025-12-20 06:15"), local("2026-02-10 13:00")),  # partial at both ends
    (local("2026-01-01 00:00"), local("2026-02-01 00:00")),  # one whole month
    (local("2026-02-28 00:00"), NOW),  # no whole sealed month
]
PERIODS = ["2026-01", "2026-02", "rolling12", "mtd", "2026"]


def _profile(series: Series, day: date) -> list[int]:
    """Buckets that differ by series, day and quarter hour, some of them zero."""
    salt = 7 if series.quantity == "energy_generated" else 3
    return [(day.toordinal() * salt + i * i) % 9_973 * (i % 5 != 0) for i in range(96)]


@pytest.fixture
def url(db_url: str) -> Iterator[str]:
    with psycopg.connect(db_url) as conn:
        register(conn, [PARTS])
        series = [Series("prt-el1", PARTS, "energy_import"),
                  Series("prt-pv1", PARTS, "energy_generated")]  # fmt: skip
        write_history(conn, series, date(2025, 11, 28), date(2026, 3, 5), _profile)
    yield db_url


def _activities(url: str) -> list[list[str]]:
    with psycopg.connect(url) as conn:
        return [
            sorted(map(repr, read_activities(conn, [PARTS], lo, hi)[PARTS])) for lo, hi in RANGES
        ]


def _accounts(url: str) -> list[dict[str, object]]:
    with psycopg.connect(url, autocommit=True) as conn:
        return [
            get_account(conn, PARTS, Period.parse(p, NOW), now=NOW).model_dump(exclude={"grades"})
            for p in PERIODS
        ]


def test_stored_months_give_the_activity_and_accounts_of_the_buckets(url: str) -> None:
    buckets, accounts = _activities(url), _accounts(url)
    assert all(account["totals"]["total"] > 0 for account in accounts)  # type: ignore[index]
    with psycopg.connect(url) as conn:
        seal(conn, date(2026, 3, 1))
    assert _activities(url) == buckets
    assert _accounts(url) == accounts
    # the sealed months are read from the sums: buckets gone behind the triggers' back stay read
    with psycopg.connect(url) as conn:
        conn.execute("ALTER TABLE rollups_15m DISABLE TRIGGER USER")
        conn.execute("DELETE FROM rollups_15m WHERE bucket < %s", (local("2026-02-01 00:00"),))
    assert _activities(url)[2] == buckets[2]
    assert _activities(url)[1] != buckets[1]  # 2025-12-20.. was partial: read from the buckets


def test_the_stored_span_is_the_whole_sealed_months_inside_the_range() -> None:
    sealed = date(2026, 2, 1)
    assert sealed_span(*RANGES[0], sealed) == (local("2025-12-01 00:00"), local("2026-02-01 00:00"))
    assert sealed_span(*RANGES[1], sealed) == (local("2026-01-01 00:00"), local("2026-02-01 00:00"))
    assert sealed_span(*RANGES[3], sealed) == (NOW, NOW)
    assert sealed_span(*RANGES[0], date(1970, 1, 1)) == (NOW, NOW)
    # the same instants in UTC: months are local ones whatever the zone of the bounds
    utc = [t.astimezone(UTC) for t in RANGES[0]]
    assert sealed_span(*utc, sealed) == sealed_span(*RANGES[0], sealed)
