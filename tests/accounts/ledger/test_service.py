"""``accounts run``: readings -> ingest writer -> aggregator -> live accounts, change by change."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from decimal import Decimal

import psycopg
import pytest

from accounts.ledger import Period, get_account
from accounts.ledger._store import regrade_live
from accounts.ledger.service import _GRADER, LiveAccounts
from analytics import Aggregator, Partition
from carbonledger.config import AccountsSettings, AggregateSettings
from carbonledger.tz import SHANGHAI
from ingest.writer import BatchWriter, Message
from tests.accounts.ledger.helpers import CEMENT, DYEING, PARTS, economics, local, register
from tests.helpers import InThread


@pytest.fixture
def url(db_url: str) -> Iterator[str]:
    with psycopg.connect(db_url, autocommit=True) as conn:
        register(conn, [PARTS])
    yield db_url


def _write(url: str, start: datetime, first_value: float, count: int) -> None:
    """``count`` readings of prt-el1 15 s apart, rising 0.25 kWh each (60 kWh/h)."""
    rows = []
    for i in range(count):
        t = start + timedelta(seconds=15 * i)
        rows.append((t, "prt-el1", "energy_import", first_value + 0.25 * i, "good", t))
    writer = BatchWriter(url)
    writer.write([Message("t", b"", rows=rows, row_indexes=list(range(len(rows))))])
    writer.close()


def _drain(url: str) -> None:
    aggregator = Aggregator(url, AggregateSettings(), Partition())
    with psycopg.connect(url) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        while (result := aggregator.cycle(conn)).changes or result.more:
            pass


def test_live_accounts_follow_each_change(url: str) -> None:
    now = local("2026-11-20 10:00")
    service = LiveAccounts(url, AccountsSettings())
    _write(url, local("2026-11-20 09:00"), 100.0, 61)  # 09:00..09:15: 60 x 0.25 = 15 kWh
    _drain(url)
    with psycopg.connect(url) as conn, psycopg.connect(url, autocommit=True) as reader:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        first = service.cycle(conn, now)
        assert first.full and first.refreshed == 1
        # 15 kWh x 0.4974 / 1000 = 0.007461 t
        assert get_account(reader, PARTS, Period.mtd(now)).totals.total == Decimal("0.007461")
        assert service.cycle(conn, now).refreshed == 0  # nothing new
        _write(url, local("2026-11-20 09:15:15"), 115.25, 60)  # 15 kWh more, to 09:30
        _drain(url)
        second = service.cycle(conn, now)
        assert (second.full, second.refreshed) == (False, 1)
        mtd = get_account(reader, PARTS, Period.mtd(now))
        assert mtd.totals.total == Decimal("0.014922")  # 30 kWh x 0.4974 / 1000
        # a late reading at 2026-10-31 12:00 (99.75) reaches into October: the interval to
        # 2026-11-20 09:00 books 0.25 kWh across the gap, some of it in October, so the cached
        # October activity is dropped and re-read
        _write(url, local("2026-10-31 12:00"), 99.75, 1)
        _drain(url)
        third = service.cycle(conn, now)
        assert (third.full, third.refreshed) == (False, 1)
        rolling = get_account(reader, PARTS, Period.parse("rolling12", now))
        assert rolling.totals.total == Decimal("0.01504635")  # 30.25 kWh x 0.4974 / 1000
        october = sum(
            (p.activity for line in rolling.lines for p in line.months if p.month.month == 10),
            Decimal(0),
        )
        assert Decimal(0) < october < Decimal("0.25")
    assert service.metrics.cycles._value.get() == 4


def test_the_service_runs_until_stopped(url: str) -> None:
    service = LiveAccounts(url, AccountsSettings(refresh_s=0.1))
    with InThread(service.run, service.ready):
        deadline = time.monotonic() + 10
        while service.metrics.cycles._value.get() < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert service.metrics.cycles._value.get() >= 2


def test_a_second_service_waits_as_a_standby(url: str) -> None:
    first = LiveAccounts(url, AccountsSettings(refresh_s=0.1))
    second = LiveAccounts(url, AccountsSettings(refresh_s=0.1))
    with InThread(first.run, first.ready):
        runner = InThread(second.run, second.ready)
        runner.thread.start()
        assert not second.ready.wait(1.0)  # refused the lock: it never gets ready
        runner.stop.set()
        runner.thread.join(10)
        assert not runner.thread.is_alive() and runner.error is None
    assert second.metrics.cycles._value.get() == 0


def test_a_new_month_moves_the_month_that_ended_into_the_cache(url: str) -> None:
    _write(url, local("2026-10-20 09:00"), 100.0, 61)  # 15 kWh in October
    _drain(url)
    service = LiveAccounts(url, AccountsSettings())
    with psycopg.connect(url) as conn, psycopg.connect(url, autocommit=True) as reader:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        service.cycle(conn, local("2026-10-20 10:00"))  # October is the current month
        november = local("2026-11-20 10:00")
        assert service.cycle(conn, november).refreshed == 1  # a new day: every enterprise
        rolling = get_account(reader, PARTS, Period.parse("rolling12", november))
        assert rolling.totals.total == Decimal("0.007461")  # 15 kWh x 0.4974 / 1000
        assert get_account(reader, PARTS, Period.mtd(november)).totals.total == Decimal(0)


def _grade_of(reader: psycopg.Connection) -> tuple[object, ...]:
    row = reader.execute(
        "SELECT l_value, computed_at FROM grades WHERE period_kind = 'mtd' AND model = 'huzhou'"
    ).fetchone()
    assert row is not None
    return tuple(row)


def test_grades_follow_the_accounts_at_most_every_grade_s(url: str) -> None:
    """The accounts commit on every cycle; the grades are rewritten after them, and with
    ``accounts.grade_s`` not more often than that, but never left behind for good."""
    now = local("2026-11-20 10:00")
    service = LiveAccounts(url, AccountsSettings(grade_s=3600))
    with psycopg.connect(url, autocommit=True) as conn:
        economics(conn, PARTS, "2026-11-01", "10", None)  # value added: L = tCO2 / 10 万元
    _write(url, local("2026-11-20 09:00"), 100.0, 61)
    _drain(url)
    with psycopg.connect(url) as conn, psycopg.connect(url, autocommit=True) as reader:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        service.cycle(conn, now)  # the first grading is due at once
        first = _grade_of(reader)
        _write(url, local("2026-11-20 09:15:15"), 115.25, 60)
        _drain(url)
        assert service.cycle(conn, now).refreshed == 1
        assert get_account(reader, PARTS, Period.mtd(now)).totals.total == Decimal("0.014922")
        assert _grade_of(reader) == first  # not due yet: the account moved, its grade not
        service.settings = AccountsSettings(grade_s=0)
        assert service.cycle(conn, now).refreshed == 0  # nothing new, but grading is owed
        l_value, _ = _grade_of(reader)
        assert l_value != first[0]


_FAIL_SELECTIONS = """
CREATE FUNCTION fail_selections() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN RAISE EXCEPTION 'selections not written'; END $$;
CREATE TRIGGER fail_selections BEFORE INSERT ON factor_selection
FOR EACH ROW EXECUTE FUNCTION fail_selections();
"""
_OCTOBER = (
    "SELECT count(*) FROM factor_selection WHERE month = '2026-10-01' AND carrier = 'electricity'"
)


def test_past_months_selections_are_written_until_a_cycle_commits_them(url: str) -> None:
    _write(url, local("2026-10-20 09:00"), 100.0, 61)  # October: a past month in November
    _write(url, local("2026-11-20 09:00"), 200.0, 61)
    _drain(url)
    service = LiveAccounts(url, AccountsSettings())
    now = local("2026-11-20 10:00")
    with psycopg.connect(url) as conn, psycopg.connect(url, autocommit=True) as admin:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        admin.execute(_FAIL_SELECTIONS)
        with pytest.raises(psycopg.errors.RaiseException):
            service.cycle(conn, now)  # computed, written, rolled back
        admin.execute("DROP TRIGGER fail_selections ON factor_selection")
        _write(url, local("2026-11-20 09:15:15"), 215.25, 60)
        _drain(url)
        assert service.cycle(conn, now).refreshed == 1
        assert admin.execute(_OCTOBER).fetchone() == (1,)  # written again, committed
        admin.execute("DELETE FROM factor_selection WHERE month = '2026-10-01'")
        _write(url, local("2026-11-20 09:30:15"), 230.5, 60)
        _drain(url)
        assert service.cycle(conn, now).refreshed == 1
        # committed once: the cycles of the same kept months write the current month's only
        assert admin.execute(_OCTOBER).fetchone() == (0,)


def test_a_failed_cycle_leaves_its_changes_to_the_next(url: str) -> None:
    now = local("2026-11-20 10:00")
    service = LiveAccounts(url, AccountsSettings())
    _write(url, local("2026-11-20 09:00"), 100.0, 61)
    _drain(url)
    with psycopg.connect(url) as conn, psycopg.connect(url, autocommit=True) as admin:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        assert service.cycle(conn, now).refreshed == 1
        _write(url, local("2026-11-20 09:15:15"), 115.25, 60)  # 15 kWh more
        _drain(url)
        admin.execute(_FAIL_SELECTIONS)
        with pytest.raises(psycopg.errors.RaiseException):
            service.cycle(conn, now)  # took the change, rolled back
        admin.execute("DROP TRIGGER fail_selections ON factor_selection")
        assert service.cycle(conn, now).refreshed == 1
        mtd = get_account(admin, PARTS, Period.mtd(now))
        assert mtd.totals.total == Decimal("0.014922")  # 30 kWh x 0.4974 / 1000


_FAIL_ONE = """
CREATE FUNCTION fail_one() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN IF NEW.enterprise_code = {} THEN RAISE EXCEPTION 'not written'; END IF;
RETURN NEW; END $$;
CREATE TRIGGER fail_one BEFORE INSERT ON factor_selection
FOR EACH ROW EXECUTE FUNCTION fail_one();
"""


def test_a_cycle_failing_after_a_committed_chunk_takes_its_changes_again(url: str) -> None:
    """``accounts.write_chunk`` 1: each enterprise's accounts commit on their own; a cycle whose
    second chunk fails keeps the first one's accounts and leaves its changes to the next cycle,
    and the past months' selections a committed chunk wrote count as stored."""
    with psycopg.connect(url, autocommit=True) as admin:
        register(admin, [DYEING])
    _write(url, local("2026-10-20 09:00"), 100.0, 61)  # October: a past month of PARTS
    _write(url, local("2026-11-20 09:00"), 200.0, 61)
    _drain(url)
    now = local("2026-11-20 10:00")
    service = LiveAccounts(url, AccountsSettings(write_chunk=1))
    mtd = "SELECT enterprise_code, xmin::text FROM account_periods WHERE period_kind = 'mtd'"
    with psycopg.connect(url) as conn, psycopg.connect(url, autocommit=True) as admin:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        assert service.cycle(conn, now).refreshed == 2  # DYEING's chunk, then PARTS's
        first = {code.strip(): xmin for code, xmin in admin.execute(mtd)}
        assert len(set(first.values())) == 2
        assert admin.execute(_OCTOBER).fetchone() == (1,)
        before = get_account(admin, PARTS, Period.mtd(now)).totals.total
        admin.execute("DELETE FROM factor_selection WHERE month = '2026-10-01'")
        admin.execute(psycopg.sql.SQL(_FAIL_ONE).format(psycopg.sql.Literal(PARTS)))
        _write(url, local("2026-11-20 09:15:15"), 215.25, 60)  # PARTS: 15 kWh more
        _drain(url)
        service._owed.owe([DYEING, PARTS], 0.0, 0.0)  # DYEING owed: in the same cycle, first
        with pytest.raises(psycopg.errors.RaiseException):
            service.cycle(conn, now)
        second = {code.strip(): xmin for code, xmin in admin.execute(mtd)}
        assert second[DYEING] != first[DYEING] and second[PARTS] == first[PARTS]
        assert get_account(admin, PARTS, Period.mtd(now)).totals.total == before
        admin.execute("DROP TRIGGER fail_one ON factor_selection")
        assert service.cycle(conn, now).refreshed == 2  # the change again; everyone owed
        after = get_account(admin, PARTS, Period.mtd(now)).totals.total
        assert after - before == Decimal("0.007461")  # 15 kWh x 0.4974 / 1000
        # October's rows were committed by the first cycle's chunk: not written again
        assert admin.execute(_OCTOBER).fetchone() == (0,)


class _Clock:
    """The seconds the service's schedules count, moved by the test."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def _as_of(reader: psycopg.Connection) -> dict[str, datetime]:
    rows = reader.execute(
        "SELECT enterprise_code, as_of FROM account_periods"
        " WHERE period_kind = 'mtd' AND status = 'live'"
    ).fetchall()
    return {code.strip(): as_of for code, as_of in rows}


def test_a_full_refresh_is_spread_while_changed_enterprises_are_served_every_cycle(
    url: str,
) -> None:
    """``accounts.spread_s``: the start owes every enterprise a refresh, due evenly over
    spread_s (least recently refreshed first); a changed enterprise is refreshed at once."""
    with psycopg.connect(url, autocommit=True) as conn:
        register(conn, [DYEING, CEMENT])
    now, clock = local("2026-11-20 10:00"), _Clock()
    service = LiveAccounts(url, AccountsSettings(spread_s=90), clock=clock)
    _write(url, local("2026-11-20 09:00"), 100.0, 61)
    _drain(url)
    with psycopg.connect(url) as conn, psycopg.connect(url, autocommit=True) as reader:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        first = service.cycle(conn, now)  # dues: DYEING 0, CEMENT 30, PARTS 60
        assert (first.full, first.refreshed, first.owed) == (True, 1, 2)
        assert set(_as_of(reader)) == {DYEING}
        _write(url, local("2026-11-20 09:15:15"), 115.25, 60)
        _drain(url)
        clock.t = 10.0
        second = service.cycle(conn, now)  # PARTS changed: served now, no longer owed
        assert (second.full, second.refreshed, second.owed) == (False, 1, 1)
        assert set(_as_of(reader)) == {DYEING, PARTS}
        assert get_account(reader, PARTS, Period.mtd(now)).totals.total == Decimal("0.014922")
        clock.t = 29.0
        assert service.cycle(conn, now).refreshed == 0  # CEMENT is due at 30
        clock.t = 30.0
        assert (service.cycle(conn, now).refreshed, len(_as_of(reader))) == (1, 3)
        clock.t = 61.0
        assert service.cycle(conn, now).refreshed == 0  # PARTS was paid at 10


def test_every_account_follows_a_change_of_all_inputs_within_spread_s(url: str) -> None:
    """The bound (docs/accounts.md): a change seen at T is in every account by the first cycle
    starting at T + spread_s or later, also when a second change comes meanwhile."""
    with psycopg.connect(url, autocommit=True) as conn:
        register(conn, [DYEING, CEMENT])
    clock = _Clock()
    service = LiveAccounts(url, AccountsSettings(spread_s=90), clock=clock)
    _write(url, local("2026-11-20 09:00"), 100.0, 61)
    _drain(url)  # the aggregator's watermark: without it every cycle refreshes everyone
    with psycopg.connect(url) as conn, psycopg.connect(url, autocommit=True) as reader:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        for t in (0.0, 30.0, 60.0):  # the start, spread
            clock.t = t
            service.cycle(conn, local("2026-11-20 10:00"))
        assert len(_as_of(reader)) == 3
        day = local("2026-11-21 10:00")
        clock.t = 100.0  # a new day: every account's as_of is owed, due at 100, 130, 160
        new_day = service.cycle(conn, day)
        assert (new_day.full, new_day.refreshed, new_day.owed) == (True, 1, 2)
        clock.t = 145.0  # economic data changed: the owed keep their due times
        with psycopg.connect(url, autocommit=True) as writer:
            economics(writer, PARTS, "2026-11-01", "10", None)
        assert service.cycle(conn, day).full
        assert sorted(_as_of(reader).values()).count(day) == 2
        clock.t = 190.0  # 100 + spread_s: every account is as of the new day
        service.cycle(conn, day)
        assert set(_as_of(reader).values()) == {day}


def _wait_for(check: Callable[[], bool], seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_cycles_go_on_while_the_grading_waits(url: str) -> None:
    """``accounts run`` grades in a thread of its own: a grading held up (here by another
    process's grading lock) holds no cycle, and once through it grades the last accounts."""
    # the service runs on the wall clock: its 30 minutes of readings end before now, in this month
    start = (datetime.now(SHANGHAI) - timedelta(minutes=40)).replace(second=0, microsecond=0)
    if start.month != datetime.now(SHANGHAI).month:
        pytest.skip("the month began less than 40 minutes ago: its readings would straddle it")
    with psycopg.connect(url, autocommit=True) as conn:
        economics(conn, PARTS, f"{start:%Y-%m}-01", "10", None)
    _write(url, start, 100.0, 61)
    _drain(url)
    service = LiveAccounts(url, AccountsSettings(refresh_s=0.1))

    def mtd_total() -> Decimal:
        return get_account(reader, PARTS, Period.mtd(datetime.now(SHANGHAI))).totals.total

    with (
        psycopg.connect(url, autocommit=True) as reader,
        psycopg.connect(url, autocommit=True) as other,
    ):
        other.execute("SELECT pg_advisory_lock(%s)", (_GRADER,))
        with InThread(service.run, service.ready):
            assert _wait_for(
                lambda: (
                    reader.execute(
                        "SELECT 1 FROM account_periods WHERE period_kind = 'mtd'"
                    ).fetchone()
                    is not None
                )
            )
            _write(url, start + timedelta(seconds=15 * 61), 115.25, 60)
            _drain(url)  # held behind the grading, this cycle would never come
            assert _wait_for(lambda: mtd_total() == Decimal("0.014922"))
            assert reader.execute("SELECT count(*) FROM grades").fetchone() == (0,)
            other.execute("SELECT pg_advisory_unlock(%s)", (_GRADER,))
            assert _wait_for(
                lambda: (
                    reader.execute(
                        "SELECT count(*) FROM grades WHERE period_kind = 'mtd'"
                    ).fetchone()
                    != (0,)
                )
            )
            assert _wait_for(lambda: not service._ungraded.is_set())
        graded = _grade_of(reader)
        with psycopg.connect(url) as conn:  # the grades of the accounts as they are
            regrade_live(conn, AccountsSettings(), datetime.now(SHANGHAI))
            conn.commit()
        assert _grade_of(reader)[0] == graded[0]
