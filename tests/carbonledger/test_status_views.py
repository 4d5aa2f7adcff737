"""The producers' status views that other rooms read instead of their tables (migration 0013)."""

from __future__ import annotations

import psycopg


def test_ingest_recent_and_the_aggregation_backlog(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        assert conn.execute("SELECT * FROM ingest_recent").fetchone() == (0, None, 0, 0)
        assert conn.execute("SELECT watermark_at, changes FROM aggregation_backlog").fetchone() == (
            None,
            0,
        )
        conn.execute(
            "INSERT INTO readings (time, meter_id, quantity, value, quality) VALUES"
            " (now() - interval '1 minute', 'm1', 'energy_import', 1, 'good'),"
            " (now() - interval '2 minutes', 'm1', 'energy_import', 2, 'good'),"
            " (now() - interval '1 hour', 'm1', 'energy_import', 0, 'good')"
        )
        conn.execute(
            "INSERT INTO dead_letters (received_at, topic, payload, payload_sha256, reason) VALUES"
            " (now(), 't1', 'x', 'a', 'bad json'), (now() - interval '2 hours', 't2', 'y', 'b',"
            " 'bad json'), (now() - interval '2 days', 't3', 'z', 'c', 'old')"
        )
        for _ in range(2):  # two committed batches, each its own transaction
            conn.execute(
                "INSERT INTO reading_changes (enterprise_code, meter_id, quantity, first_time,"
                " last_time, readings) VALUES ('91331102MA2A00001X', 'm1', 'energy_import',"
                " now(), now(), 1)"
            )
        first = conn.execute("SELECT min(txid) FROM reading_changes").fetchone()
        assert first is not None
        conn.execute(
            "INSERT INTO aggregator_watermarks (partitions, partition, txid) VALUES (1, 0, %s)",
            first,
        )
        row = conn.execute("SELECT * FROM ingest_recent").fetchone()
        assert row is not None
        readings_5m, last, hour, day = row
        assert (readings_5m, hour, day) == (2, 1, 2)
        assert last is not None
        reasons = conn.execute("SELECT reason, messages FROM dead_letter_reasons_1d").fetchall()
        assert reasons == [("bad json", 2)]
        assert conn.execute("SELECT changes FROM aggregation_backlog").fetchone() == (2,)
