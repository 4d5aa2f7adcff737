"""Schema migrations: ordered, recorded, idempotent; plain PostgreSQL and TimescaleDB paths."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from carbonledger import wire
from carbonledger.db import load_migrations, migrate
from carbonledger.errors import MigrationError
from tests.helpers import register_sites

TIMESCALEDB_ONLY = [f"{m.version:04d}_{m.name}" for m in load_migrations() if m.needs_timescaledb]

SCHEMA_QUERY = """
SELECT 'column', table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable
  FROM information_schema.columns WHERE table_schema = 'public'
UNION ALL
SELECT 'index', indexdef FROM pg_indexes WHERE schemaname = 'public'
UNION ALL
SELECT 'constraint', conrelid::regclass || ' ' || pg_get_constraintdef(oid)
  FROM pg_constraint WHERE connamespace = 'public'::regnamespace
ORDER BY 1, 2
"""


def snapshot(url: str) -> tuple[list[tuple[str, str]], list[tuple[int, str, str]]]:
    with psycopg.connect(url) as conn:
        schema = conn.execute(SCHEMA_QUERY).fetchall()
        applied = conn.execute(
            "SELECT version, name, checksum FROM schema_migrations ORDER BY version"
        ).fetchall()
    return schema, applied


def test_migrations_are_numbered_in_order() -> None:
    versions = [m.version for m in load_migrations()]
    assert versions == sorted(versions) == list(range(1, len(versions) + 1))


def test_applying_twice_changes_nothing(db_url: str) -> None:
    before = snapshot(db_url)
    report = migrate(db_url, timescaledb="off")
    assert report.applied == []
    assert report.pending_without_timescaledb == TIMESCALEDB_ONLY
    assert snapshot(db_url) == before
    applied = [v for v, _, _ in before[1]]
    assert 3 not in applied  # the TimescaleDB step is not recorded on the plain path
    assert applied == [m.version for m in load_migrations() if not m.needs_timescaledb]


def test_a_changed_migration_is_refused(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        conn.execute("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1")
    with pytest.raises(MigrationError, match="0001_registry was changed"):
        migrate(db_url, timescaledb="off")


def test_a_database_ahead_of_the_code_is_refused(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        conn.execute("INSERT INTO schema_migrations VALUES (999, 'future', 'x')")
    with pytest.raises(MigrationError, match=r"\[999\]"):
        migrate(db_url, timescaledb="off")


def test_quantities_table_matches_the_wire_contract(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT name, unit, kind, description FROM quantities").fetchall()
    assert {name: (unit, kind, desc) for name, unit, kind, desc in rows} == {
        name: (spec.unit, spec.kind.value, spec.description)
        for name, spec in wire.QUANTITIES.items()
    }


def test_registry_constraints_hold(db_url: str) -> None:
    register_sites(db_url)
    with psycopg.connect(db_url) as conn:
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute(
                "INSERT INTO enterprises VALUES ('91331102MA2A0000IO', 'x', '3011', '莲都区')"
            )
        conn.rollback()
        # a meter must report through a gateway of its own enterprise
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            conn.execute(
                "INSERT INTO meters (id, enterprise_code, gateway_id, carrier, quantity, unit)"
                " VALUES ('x-1', '91331181MA2B00002Y', 'gw-a', 'electricity',"
                " 'energy_import', 'kWh')"
            )


def _insert_and_query(url: str) -> list[tuple[datetime, float]]:
    """The same SQL on both storage paths: store readings, bucket them by Shanghai day."""
    register_sites(url)
    start = datetime(2026, 10, 31, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai
    rows = [
        (start + timedelta(minutes=15 * i), "a-m00", "energy_import", 10.0 * i, "good")
        for i in range(12)
    ]
    with psycopg.connect(url) as conn:
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO readings (time, meter_id, quantity, value, quality)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                rows + rows[:3],
            )
        return conn.execute(
            "SELECT date_bin('1 day', time, TIMESTAMPTZ '2000-01-01 00:00+08') AS day,"
            " max(value) - min(value) FROM readings GROUP BY day ORDER BY day"
        ).fetchall()


def test_plain_path_stores_and_buckets_by_local_day(db_url: str) -> None:
    days = _insert_and_query(db_url)
    assert [(d.astimezone(UTC).isoformat(), v) for d, v in days] == [
        ("2026-10-30T16:00:00+00:00", 30.0),  # 23:00..23:45 on Oct 31, Shanghai
        ("2026-10-31T16:00:00+00:00", 70.0),
    ]
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM readings").fetchone() == (12,)
        assert conn.execute(
            "SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'"
        ).fetchone() == (0,)


@pytest.mark.timescaledb
def test_timescaledb_path_gives_the_same_results(db_url: str, ts_db_url: str) -> None:
    assert _insert_and_query(ts_db_url) == _insert_and_query(db_url)
    with psycopg.connect(ts_db_url) as conn:
        hypertable = conn.execute(
            "SELECT count(*) FROM timescaledb_information.hypertables"
            " WHERE hypertable_name = 'readings'"
        ).fetchone()
        assert hypertable == (1,)
        segmentby = conn.execute(
            "SELECT attname FROM timescaledb_information.compression_settings"
            " WHERE hypertable_name = 'readings' AND segmentby_column_index IS NOT NULL"
            " ORDER BY segmentby_column_index"
        ).fetchall()
        assert segmentby == [("meter_id",), ("quantity",)]
        jobs = conn.execute(
            "SELECT proc_name FROM timescaledb_information.jobs"
            " WHERE hypertable_name = 'readings' ORDER BY proc_name"
        ).fetchall()
        assert jobs == [("policy_compression",)]
        # compressed chunks still answer the query and still refuse duplicates
        conn.execute("SELECT compress_chunk(c) FROM show_chunks('readings') c")
        conn.commit()
        conn.execute(
            "INSERT INTO readings (time, meter_id, quantity, value, quality)"
            " SELECT time, meter_id, quantity, value, quality FROM readings ON CONFLICT DO NOTHING"
        )
        assert conn.execute("SELECT count(*) FROM readings").fetchone() == (12,)


@pytest.mark.timescaledb
def test_retention_is_configuration_and_migrate_applies_it(ts_db_url: str) -> None:
    migrate(ts_db_url, timescaledb="on", retention="3 years")
    migrate(ts_db_url, timescaledb="on", retention="3 years")  # idempotent
    with psycopg.connect(ts_db_url) as conn:
        config = conn.execute(
            "SELECT config->>'drop_after' FROM timescaledb_information.jobs"
            " WHERE hypertable_name = 'readings' AND proc_name = 'policy_retention'"
        ).fetchall()
    assert config == [("3 years",)]
    migrate(ts_db_url, timescaledb="on", retention=None)
    with psycopg.connect(ts_db_url) as conn:
        assert conn.execute(
            "SELECT count(*) FROM timescaledb_information.jobs WHERE proc_name = 'policy_retention'"
            " AND hypertable_name = 'readings'"
        ).fetchone() == (0,)


@pytest.mark.timescaledb
def test_plain_database_converts_when_timescaledb_arrives(
    db_url: str, timescale_available: bool
) -> None:
    if not timescale_available:
        pytest.skip("TimescaleDB is not installed here")
    days = _insert_and_query(db_url)
    report = migrate(db_url, timescaledb="on")
    assert report.applied == TIMESCALEDB_ONLY
    with psycopg.connect(db_url) as conn:
        assert conn.execute(
            "SELECT count(*) FROM timescaledb_information.hypertables"
            " WHERE hypertable_name = 'readings'"
        ).fetchone() == (1,)
        assert (
            conn.execute(
                "SELECT date_bin('1 day', time, TIMESTAMPTZ '2000-01-01 00:00+08') AS day,"
                " max(value) - min(value) FROM readings GROUP BY day ORDER BY day"
            ).fetchall()
            == days
        )
