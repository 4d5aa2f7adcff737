"""Writing many rows at once: COPY into a session's staging table, then one INSERT … SELECT.

A province's live cycle writes 150,000 accounts and 300,000 grades; as separate INSERT
statements (even pipelined) the server plans and executes each one, which costs more than the
row. COPY and a single INSERT … ON CONFLICT do the same upserts in one statement.

The staging table compresses its columns as the target does (an account's detail is ~7.7 KB of
JSON, compressed and stored out of line): INSERT … SELECT keeps a value compressed with the
staging table's method, so a staging column left at the default (pglz) would also decide the
target's, and compress with the slower method first.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import psycopg
from psycopg import Copy, sql


def upsert(
    conn: psycopg.Connection,
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[object]],
    conflict: str = "",
    *,
    now: Sequence[str] = (),
) -> None:
    """INSERT ``rows`` (values of ``columns``) into ``table`` followed by ``conflict`` (an ON
    CONFLICT clause, or nothing); the columns of ``now`` get now(). The rows must not repeat a
    conflict key (ON CONFLICT DO UPDATE affects a row once per statement)."""
    if not rows:
        return
    with staged(conn, table, columns, conflict, now=now) as stage:
        for row in rows:
            stage.write_row(row)


@contextmanager
def staged(
    conn: psycopg.Connection,
    table: str,
    columns: Sequence[str],
    conflict: str = "",
    *,
    now: Sequence[str] = (),
) -> Iterator[Copy]:
    """:func:`upsert` of the rows written to the yielded COPY while the block runs.

    The server parses the rows (an account's detail: ~10 KB of JSON into jsonb) as they
    arrive, while the caller computes the next ones: a live cycle's writing then overlaps its
    computing on the machine's other core instead of following it. The connection runs nothing
    else until the block ends.
    """
    stage = _stage(conn, table, columns)
    names = sql.SQL(", ").join(map(sql.Identifier, columns))
    with conn.cursor() as cur:
        with cur.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(stage, names)) as copy:
            yield copy
        target = sql.SQL(", ").join(map(sql.Identifier, [*columns, *now]))
        values = sql.SQL(", ").join(
            [*map(sql.Identifier, columns), *(sql.SQL("now()") for _ in now)]
        )
        cur.execute(
            sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} ").format(
                sql.Identifier(table), target, values, stage
            )
            + sql.SQL(conflict)  # a constant of the caller
        )
        cur.execute(sql.SQL("TRUNCATE {}").format(stage))


_METHODS = {"p": "pglz", "l": "lz4"}  # pg_attribute.attcompression
_COMPRESSED = """
SELECT attname, attcompression FROM pg_attribute
WHERE attrelid = %s::regclass AND attname = ANY(%s) AND attcompression <> ''
"""


def _stage(conn: psycopg.Connection, table: str, columns: Sequence[str]) -> sql.Identifier:
    """The session's staging table for ``table``: the columns' types and compression methods,
    no constraints; emptied at commit (created once per session)."""
    name = f"_stage_{table}"
    stage = sql.Identifier(name)
    row = conn.execute("SELECT to_regclass(%s)", (f"pg_temp.{name}",)).fetchone()
    if row is not None and row[0] is not None:
        return stage
    conn.execute(
        sql.SQL(
            "CREATE TEMP TABLE {} ON COMMIT DELETE ROWS AS SELECT {} FROM {} WITH NO DATA"
        ).format(stage, sql.SQL(", ").join(map(sql.Identifier, columns)), sql.Identifier(table))
    )
    for column, method in conn.execute(_COMPRESSED, (table, list(columns))).fetchall():
        conn.execute(
            sql.SQL("ALTER TABLE {} ALTER COLUMN {} SET COMPRESSION {}").format(
                stage, sql.Identifier(column), sql.SQL(_METHODS[method])
            )
        )
    return stage
