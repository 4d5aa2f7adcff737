"""stored_account: the API's read of a stored account by its key is get_account's answer."""

from __future__ import annotations

import psycopg

from accounts.ledger import Period, close, get_account, refresh_live, stored_account
from tests.accounts.ledger.helpers import CEMENT, DYEING
from tests.accounts.ledger.test_read_path import _write_reference_rollups
from tests.accounts.ledger.test_reference_accounts import NOW, OCT


def test_a_period_not_stored_is_none_so_the_caller_computes_it(conn: psycopg.Connection) -> None:
    _write_reference_rollups(conn)
    assert stored_account(conn, DYEING, OCT) is None
    assert get_account(conn, DYEING, OCT, now=NOW).status == "provisional"


def test_a_closed_account_reads_as_get_account_returns_it_grades_included(
    conn: psycopg.Connection,
) -> None:
    _write_reference_rollups(conn)
    close(conn, OCT, now=NOW)
    for code in (DYEING, CEMENT):
        stored = stored_account(conn, code, OCT)
        assert stored is not None and stored.status == "closed"
        assert stored.model_dump() == get_account(conn, code, OCT, now=NOW).model_dump()
        assert stored.grades  # the grades of the closed period come with it


def test_a_live_account_reads_as_stored(conn: psycopg.Connection) -> None:
    _write_reference_rollups(conn)
    refresh_live(conn, codes=[DYEING], now=NOW)
    mtd = Period.mtd(NOW)
    stored = stored_account(conn, DYEING, mtd)
    assert stored is not None and stored.status == "live"
    assert stored.model_dump() == get_account(conn, DYEING, mtd, now=NOW).model_dump()
    assert stored_account(conn, CEMENT, mtd) is None  # not refreshed: not stored
