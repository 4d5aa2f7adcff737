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
from psycopg.abc import Buffer
from psycopg.adapt import Dumper
from psycopg.pq import Format


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
    binary: bool = False,
) -> Iterator[Copy]:
    """:func:`upsert` of the rows written to the yielded COPY while the block runs.

    The server parses the rows (an account's detail: ~10 KB of JSON into jsonb) as they
    arrive, while the caller computes the next ones: a live cycle's writing then overlaps its
    computing on the machine's other core instead of following it. The connection runs nothing
    else until the block ends.

    ``binary``: COPY in binary format, a jsonb value given as its JSON text in UTF-8 (bytes):
    the server reads numbers and text without unescaping them, and the client sends the JSON
    it encoded as it is (0.03-0.06 ms less server CPU per live account: live_accounts.py).
    """
    stage = _stage(conn, table, columns)
    names = sql.SQL(", ").join(map(sql.Identifier, columns))
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(stage, names)
    with conn.cursor() as cur:
        if binary:
            types = _types(conn, table, columns)
            cur.adapters.register_dumper(None, _JsonbText)
        with cur.copy(statement + sql.SQL(" (FORMAT BINARY)" if binary else "")) as copy:
            if binary:
                copy.set_types(types)
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


_JSONB, _TEXT, _BPCHAR = 3802, 25, 1042  # pg_type oids (built in, fixed)
_TYPES = """
SELECT attname, atttypid::int FROM pg_attribute
WHERE attrelid = %s::regclass AND attname = ANY(%s) AND NOT attisdropped
"""


class _JsonbText(Dumper):
    """jsonb in binary COPY from JSON text already encoded (version 1: the text follows)."""

    format = Format.BINARY
    oid = _JSONB

    def dump(self, obj: Buffer) -> Buffer:
        return b"\x01" + bytes(obj)


def _types(conn: psycopg.Connection, table: str, columns: Sequence[str]) -> list[int]:
    """The columns' type oids for a binary COPY (char(n) sent as text: the same binary form)."""
    found: dict[str, int] = dict(conn.execute(_TYPES, (table, list(columns))).fetchall())
    return [_TEXT if found[c] == _BPCHAR else found[c] for c in columns]


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
