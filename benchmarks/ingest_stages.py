"""Where one ingest batch spends its time: Python stages, then the server's SQL, measured apart.

    .venv/bin/python benchmarks/ingest_stages.py [--batch 5000] [--batches 30]

Python, per reading, on a 500-reading message of 30 meters x 17 ticks (what a gateway sends):
decode (wire.decode), authorise (topic and meters against the registry) and the binary COPY
``write_row`` into ingest's staging table (client encoding plus the server's COPY).

The server, per batch, in a scratch database: COPY into staging; each INSERT variant (plain
``ON CONFLICT DO NOTHING``; ingest's own statement with the ``reading_changes`` log and NOTIFY;
the change log taken from staging instead); the commit. ``benchmarks/ingest.py`` gives the
end-to-end figure. Last line: JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from _common import ADMIN_URL, scratch_database  # before this folder leaves sys.path

# Run as a script, this folder comes first on sys.path, and its ingest.py would shadow the
# `ingest` package measured here.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

from carbonledger import wire
from carbonledger.db import migrate
from ingest.consumer import Delivery
from ingest.directory import Directory
from ingest.service import IngestService
from ingest.writer import _INSERT, _STAGING, _TYPES

T0 = datetime(2026, 11, 1, tzinfo=UTC)
ENTERPRISE = "91331100000000001X"
METERS = 3000

INSERT_VARIANTS = {
    "plain ON CONFLICT": (
        "INSERT INTO readings (time, meter_id, quantity, value, quality, received_at)"
        " SELECT time, meter_id, quantity, value, quality, received_at FROM incoming"
        " ON CONFLICT DO NOTHING"
    ),
    "ingest's statement (RETURNING + change log + NOTIFY)": _INSERT,
    "change log from staging": f"""
        WITH s AS (
            INSERT INTO readings (time, meter_id, quantity, value, quality, received_at)
            SELECT time, meter_id, quantity, value, quality, received_at FROM incoming
            ON CONFLICT DO NOTHING)
        INSERT INTO reading_changes
            (enterprise_code, meter_id, quantity, first_time, last_time, readings)
        SELECT '{ENTERPRISE}', meter_id, quantity, min(time), max(time), count(*)
        FROM incoming GROUP BY meter_id, quantity""",
}


def python_stages(repeat: int = 400) -> dict[str, float]:
    """Microseconds per reading: decode, authorise, and COPY into the staging table (the last
    includes the server's share, which runs on the other core)."""
    meters = [f"m{i}" for i in range(30)]
    rows = [
        wire.Reading(m, "energy_import", T0 + timedelta(seconds=15 * t), 1.0 * t)
        for t in range(17)
        for m in meters
    ][:500]
    payload = wire.encode(1, rows, T0)
    topic = wire.readings_topic(ENTERPRISE, "gw", "bench")
    start = time.perf_counter()
    for _ in range(repeat):
        batch = wire.decode(payload)
    decode = time.perf_counter() - start

    service = IngestService.__new__(IngestService)  # only the authorising part, no connections
    service._directory = Directory()
    service._directory._gateway = {"gw": (ENTERPRISE, False)}
    service._directory._meter_enterprise = dict.fromkeys(meters, ENTERPRISE)
    delivery = Delivery(topic, payload, 1, 1, 1, datetime.now(UTC), time.monotonic())
    parsed = wire.parse_topic(topic)
    start = time.perf_counter()
    for _ in range(repeat):
        message = service._authorise(delivery, parsed, batch)
    authorise = time.perf_counter() - start

    with psycopg.connect(ADMIN_URL) as conn, conn.cursor() as cur:
        cur.execute(_STAGING)  # a temporary table: nothing is left behind
        with cur.copy("COPY incoming FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(_TYPES)
            start = time.perf_counter()
            for n in range(repeat):
                for row in message.rows:
                    copy.write_row((n, *row))
            encode = time.perf_counter() - start
    readings = repeat * len(rows)
    return {
        "decode_us": decode / readings * 1e6,
        "authorise_us": authorise / readings * 1e6,
        "copy_row_us": encode / readings * 1e6,
    }


def server_stages(batch: int, batches: int) -> dict[str, dict[str, float]]:
    """Rows/s per server step for each INSERT variant, on a fresh plain-PostgreSQL database."""
    with scratch_database(f"clbench_stages_{os.getpid()}", replace=True) as url:
        migrate(url, timescaledb="off")
        with psycopg.connect(url) as conn:
            conn.execute(
                "INSERT INTO enterprises VALUES (%s, 'e', '3011', '莲都区')", (ENTERPRISE,)
            )
            conn.execute(
                "INSERT INTO gateways (id, enterprise_code) VALUES ('gw', %s)", (ENTERPRISE,)
            )
            conn.execute(
                "INSERT INTO meters (id, enterprise_code, gateway_id, carrier, quantity, unit)"
                " SELECT 'm' || g, %s, 'gw', 'electricity', 'energy_import', 'kWh'"
                " FROM generate_series(0, %s) g",
                (ENTERPRISE, METERS - 1),
            )
            conn.execute(_STAGING)
            conn.commit()
            return {
                label: _time_variant(
                    conn, statement, batch, batches, offset=index * batch * batches
                )
                for index, (label, statement) in enumerate(INSERT_VARIANTS.items())
            }


def _time_variant(
    conn: psycopg.Connection, statement: str, batch: int, batches: int, offset: int
) -> dict[str, float]:
    copy_s = insert_s = commit_s = 0.0
    for k in range(batches):
        now = datetime.now(UTC)
        start = time.perf_counter()
        with conn.cursor().copy("COPY incoming FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(_TYPES)
            for i in range(batch):
                j = offset + k * batch + i
                at = T0 + timedelta(seconds=15 * (j // METERS))
                copy.write_row((i, at, f"m{j % METERS}", "energy_import", 1.0, "good", now))
        copied = time.perf_counter()
        conn.execute(statement.encode())
        inserted = time.perf_counter()
        conn.commit()
        committed = time.perf_counter()
        copy_s += copied - start
        insert_s += inserted - copied
        commit_s += committed - inserted
    rows = batch * batches
    return {
        "copy_rows_per_s": rows / copy_s,
        "insert_rows_per_s": rows / insert_s,
        "commit_ms": commit_s / batches * 1000,
        "overall_rows_per_s": rows / (copy_s + insert_s + commit_s),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--batches", type=int, default=30)
    args = parser.parse_args()
    python = python_stages()
    for stage, us in python.items():
        print(f"python {stage.removesuffix('_us'):10s} {us:6.2f} us/reading")
    server = server_stages(args.batch, args.batches)
    for label, figures in server.items():
        print(
            f"server {label:52s} COPY {figures['copy_rows_per_s']:>9,.0f}/s"
            f"  INSERT {figures['insert_rows_per_s']:>9,.0f}/s"
            f"  commit {figures['commit_ms']:5.1f} ms"
            f"  overall {figures['overall_rows_per_s']:>9,.0f}/s"
        )
    print(json.dumps({"python_us_per_reading": python, "server": server, "batch": args.batch}))


if __name__ == "__main__":
    main()
