"""What a live cycle writes: grading's figures as columns, only changed grades, the detail's
compression (the province-scale write path, issue 15)."""

from __future__ import annotations

from typing import Any

import psycopg

from accounts.ledger import refresh_live
from accounts.ledger._store import regrade_live
from carbonledger.config import AccountsSettings
from tests.accounts.ledger.helpers import CEMENT, DYEING, PARTS, economics, local, rollup

NOW = local("2026-11-20 10:00")
_STANDINGS = (
    "SELECT enterprise_code, period_kind, industry_code, value_added_basis, coverage,"
    " offline_meters, tco2, value_added, revenue FROM account_standings ORDER BY 1, 2"
)


def _accounts(conn: psycopg.Connection) -> None:
    rollup(conn, "prt-el1", "energy_import", local("2026-11-02 10:00"), "2000")
    rollup(conn, "dye-el1", "energy_import", local("2026-11-03 10:00"), "5000")
    rollup(conn, "cem-el1", "energy_import", local("2026-11-03 10:00"), "9000")
    economics(conn, PARTS, "2026-11-01", "10", None)
    economics(conn, DYEING, "2026-11-01", None, "30")
    refresh_live(conn, now=NOW)


def test_grading_reads_the_same_figures_from_the_columns_as_from_the_detail(
    conn: psycopg.Connection,
) -> None:
    _accounts(conn)
    columns = conn.execute(_STANDINGS).fetchall()
    assert len(columns) == 9 and all(row[6] is not None for row in columns)
    assert {row[0].strip() for row in columns if row[7] is None} >= {CEMENT}  # no value added
    # an account written without the columns (another writer, or before migration 0017)
    conn.execute(
        "UPDATE account_periods SET industry_code = NULL, value_added_basis = NULL,"
        " exact_total = NULL, exact_value_added = NULL, exact_revenue = NULL"
    )
    assert conn.execute(_STANDINGS).fetchall() == columns


def test_a_regrade_rewrites_only_the_grades_that_changed(conn: psycopg.Connection) -> None:
    _accounts(conn)
    written = "SELECT enterprise_code, period_kind, model, xmin::text FROM grades ORDER BY 1, 2, 3"
    before = conn.execute(written).fetchall()
    assert len(before) == 18  # 3 enterprises x 3 live periods x 2 models
    assert regrade_live(conn, AccountsSettings(), NOW) == 18
    assert conn.execute(written).fetchall() == before  # nothing changed: no row rewritten
    rollup(conn, "prt-el1", "energy_import", local("2026-11-20 09:30"), "1000")
    refresh_live(conn, codes=[PARTS], now=NOW)
    after = conn.execute(written).fetchall()
    moved = {
        code.strip() for (code, *_, old), (*_, new) in zip(before, after, strict=True) if old != new
    }
    # PARTS alone in its industry keeps K = 1 and its grade, but its L and industry L changed;
    # the others' rows stay as they were
    assert moved == {PARTS}


def test_the_detail_is_compressed_as_its_column_says(conn: psycopg.Connection) -> None:
    _accounts(conn)
    method = conn.execute(
        "SELECT attcompression FROM pg_attribute"
        " WHERE attrelid = 'account_periods'::regclass AND attname = 'detail'"
    ).fetchone()
    assert method is not None
    expected = {"l": "lz4", "p": "pglz", "": "pglz"}[method[0]]  # '': the server's default
    stored = conn.execute(
        "SELECT DISTINCT pg_column_compression(detail) FROM account_periods"
    ).fetchall()
    assert stored == [(expected,)]


def test_a_refresh_rewrites_only_the_factor_selections_that_changed(
    conn: psycopg.Connection,
) -> None:
    _accounts(conn)
    written = (
        "SELECT enterprise_code, month, carrier, factor_id, xmin::text FROM factor_selection"
        " ORDER BY 1, 2, 3"
    )
    before = conn.execute(written).fetchall()
    assert before and all(row[3] for row in before)
    refresh_live(conn, now=NOW)
    assert conn.execute(written).fetchall() == before  # the same selections: nothing rewritten
    code, month, carrier = before[0][:3]
    conn.execute(
        "UPDATE factor_selection SET factor_id = 'stale' WHERE enterprise_code = %s"
        " AND month = %s AND carrier = %s",
        (code, month, carrier),
    )
    refresh_live(conn, now=NOW)
    after = conn.execute(written).fetchall()
    assert [row[:4] for row in after] == [row[:4] for row in before]  # the stale row repaired
    assert [row[4] != old[4] for row, old in zip(after, before, strict=True)] == [
        True,
        *[False] * (len(before) - 1),
    ]


_WRITTEN = (
    "SELECT enterprise_code, period_kind, model, xmin::text, xmax::text FROM grades"
    " ORDER BY 1, 2, 3"
)
_CONTENT = (
    "SELECT enterprise_code, period_kind, period_start, model, model_version, industry_code,"
    " l_value, industry_l, k_value, grade, colour, level, basis, label, account_version"
    " FROM grades ORDER BY 1, 2, 4"
)


def test_a_regrade_that_changes_nothing_neither_writes_nor_locks_a_row(
    conn: psycopg.Connection,
) -> None:
    _accounts(conn)
    before = conn.execute(_WRITTEN).fetchall()
    assert regrade_live(conn, AccountsSettings(), NOW) == 18
    # an upsert would lock each row it leaves as it is (xmax: the regrade's transaction)
    assert conn.execute(_WRITTEN).fetchall() == before


def test_a_moved_industry_baseline_rewrites_its_grades_and_only_those(
    conn: psycopg.Connection,
) -> None:
    conn.execute("UPDATE enterprises SET industry_code = '3670' WHERE code = %s", (DYEING,))
    rollup(conn, "prt-el1", "energy_import", local("2026-11-02 10:00"), "2000")
    rollup(conn, "dye-el1", "energy_import", local("2026-11-03 10:00"), "5000")
    rollup(conn, "cem-el1", "energy_import", local("2026-11-03 10:00"), "9000")
    economics(conn, PARTS, "2026-11-01", "10", None)
    economics(conn, DYEING, "2026-11-01", "30", None)
    refresh_live(conn, now=NOW)
    before = {row[:3]: row[3:] for row in conn.execute(_WRITTEN).fetchall()}
    content = {row[:4]: row for row in conn.execute(_CONTENT).fetchall()}
    # PARTS uses more: its L, and the industry L that DYEING's K is measured against, move
    rollup(conn, "prt-el1", "energy_import", local("2026-11-20 09:30"), "1000")
    refresh_live(conn, codes=[PARTS], now=NOW)
    after = {row[:3]: row[3:] for row in conn.execute(_WRITTEN).fetchall()}
    moved = {row[:4]: row for row in conn.execute(_CONTENT).fetchall()}
    rewritten = {key for key, stamp in after.items() if before[key] != stamp}
    changed = {
        (c, kind, model)
        for (c, kind, _, model), r in moved.items()
        if content[c, kind, _, model] != r
    }
    assert rewritten == changed  # every row whose values changed, and only those
    dyeing = moved[DYEING.ljust(18), "mtd", NOW.date().replace(day=1), "huzhou"]
    assert dyeing[7] != content[DYEING.ljust(18), "mtd", NOW.date().replace(day=1), "huzhou"][7]
    assert {(c.strip(), kind) for c, kind, _ in changed} >= {(PARTS, "mtd"), (DYEING, "mtd")}
    assert not {c.strip() for c, _, _ in rewritten} & {CEMENT}  # nor even locked
    # what was written equals grading every account from nothing
    conn.execute("DELETE FROM grades")
    assert regrade_live(conn, AccountsSettings(), NOW) == 18
    assert {row[:4]: row for row in conn.execute(_CONTENT).fetchall()} == moved


def test_a_stored_grade_that_differs_is_written_again(conn: psycopg.Connection) -> None:
    _accounts(conn)
    content = conn.execute(_CONTENT).fetchall()
    conn.execute(
        "UPDATE grades SET label = 'edited', industry_code = '0000'"
        " WHERE enterprise_code = %s AND period_kind = 'mtd' AND model = 'huzhou'",
        (DYEING,),
    )
    before = {row[:3]: row[3:] for row in conn.execute(_WRITTEN).fetchall()}
    regrade_live(conn, AccountsSettings(), NOW)
    after = {row[:3]: row[3:] for row in conn.execute(_WRITTEN).fetchall()}
    rewritten = [
        (c.strip(), kind, model)
        for (c, kind, model), s in after.items()
        if before[c, kind, model] != s
    ]
    assert rewritten == [(DYEING, "mtd", "huzhou")]
    assert conn.execute(_CONTENT).fetchall() == content


_LIVE_ROWS = (
    "SELECT enterprise_code, period_kind, period_start, status, as_of, tco2_total, tce_equivalent,"
    " value_added, intensity_va, coverage, industry_code, exact_total, exact_value_added,"
    " exact_revenue, detail - 'computed_at' FROM account_periods ORDER BY 1, 2, 3"
)
_SELECTIONS = (
    "SELECT enterprise_code, month, carrier, factor_id, tco2_num FROM factor_selection"
    " ORDER BY 1, 2, 3"
)


def _stored_live(conn: psycopg.Connection) -> tuple[list[Any], list[Any]]:
    return conn.execute(_LIVE_ROWS).fetchall(), conn.execute(_SELECTIONS).fetchall()


def test_the_accounts_written_do_not_depend_on_the_chunk_size(conn: psycopg.Connection) -> None:
    """``accounts.write_chunk``: one enterprise per transaction or all in one, the same rows."""
    _accounts(conn)  # chunks of the default size (all three in one)
    expected = _stored_live(conn)
    conn.execute("DELETE FROM grades; DELETE FROM account_periods; DELETE FROM factor_selection")
    result = refresh_live(conn, AccountsSettings(write_chunk=1), now=NOW)
    assert (result.enterprises, result.accounts) == (3, 9)
    assert _stored_live(conn) == expected and len(expected[0]) == 9


def test_each_chunk_of_accounts_commits_in_a_transaction_of_its_own(
    conn: psycopg.Connection,
) -> None:
    """No transaction of a refresh writes more than ``write_chunk`` enterprises' accounts (a
    transaction id held long holds the aggregator's watermark, docs/scale.md)."""
    _accounts(conn)
    writers = "SELECT enterprise_code, xmin::text FROM account_periods"
    assert len({xmin for _, xmin in conn.execute(writers)}) == 1  # 3 enterprises, one chunk
    refresh_live(conn, AccountsSettings(write_chunk=2), now=NOW)
    by_xid: dict[str, set[str]] = {}
    for code, xmin in conn.execute(writers):
        by_xid.setdefault(xmin, set()).add(code.strip())
    assert sorted(map(len, by_xid.values())) == [1, 2]  # chunks of 2 and 1 enterprises
