"""Writing many rows at once: COPY into a session's staging table, then one INSERT … SELECT.

A province's live cycle writes 150,000 accounts and 300,000 grades; as separate INSERT
statements (even pipelined) the server plans and executes each one, which costs more than the
row. COPY and a single INSERT … ON CONFLICT do the same upserts in one statement.
"""

from __future__ import annotations

from collections.abc import Sequence

import psycopg
from psycopg import sql


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
    stage = sql.Identifier(f"_stage_{table}")
    names = sql.SQL(", ").join(map(sql.Identifier, columns))
    conn.execute(  # the columns' types, no constraints; emptied at commit
        sql.SQL(
            "CREATE TEMP TABLE IF NOT EXISTS {} ON COMMIT DELETE ROWS"
            " AS SELECT {} FROM {} WITH NO DATA"
        ).format(stage, names, sql.Identifier(table))
    )
    with conn.cursor() as cur:
        with cur.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(stage, names)) as copy:
            for row in rows:
                copy.write_row(row)
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
