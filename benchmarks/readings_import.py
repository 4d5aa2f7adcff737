"""``readings import`` from CSV against ingest's batch writer alone, and its memory as files grow.

    .venv/bin/python benchmarks/readings_import.py [--rows 1000000] [--batch 5000]

In a scratch plain-PostgreSQL database with 1,000 electricity meters:

* baseline: ingest's :class:`~ingest.writer.BatchWriter` writing the same readings, pre-built in
  memory, in batches of ``--batch`` rows (what live ingest's writer thread does per batch);
* import: ``ingest.backfill.import_readings`` on a CSV of those readings (two streamed passes:
  validate everything, then CSV rows -> wire validation -> one message per row -> the same
  writer), into an emptied ``readings``;
* memory: peak RSS after importing a file of ``--rows / 4`` rows and after one of ``--rows``
  rows (both streamed, so the peak should not grow with the file).

Prints each figure and, last, one JSON line.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from _common import create_database, drop_database  # before this folder leaves sys.path

# Run as a script, this folder comes first on sys.path, and its ingest.py would shadow `ingest`.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

from carbonledger.db import migrate
from ingest.backfill import import_readings
from ingest.writer import BatchWriter, Message

ENTERPRISE = "91331102MA2CX001XC"
METERS = 1000
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _rows(count: int, start: int = 0) -> list[tuple[datetime, str, str, float, str]]:
    """``count`` readings: each meter's register rising 0.25 a minute, meters interleaved."""
    return [
        (T0 + timedelta(minutes=(start + i) // METERS), f"m{(start + i) % METERS}",
         "energy_import", 100 + 0.25 * ((start + i) // METERS), "good")
        for i in range(count)
    ]  # fmt: skip


def _write_csv(path: Path, count: int, start: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write("meter_id,quantity,time,value,quality\n")
        buffer = io.StringIO()
        for at in range(0, count, 50_000):
            for t, meter, quantity, value, quality in _rows(min(50_000, count - at), start + at):
                buffer.write(f"{meter},{quantity},{t.isoformat()},{value},{quality}\n")
            out.write(buffer.getvalue())
            buffer.seek(0)
            buffer.truncate()


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _database() -> tuple[str, str]:
    name = f"clbench_readings_import_{os.getpid()}"
    url = create_database(name, replace=True)
    migrate(url, timescaledb="off")
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO enterprises VALUES (%s, 'e', '3011', '莲都区')", (ENTERPRISE,))
        conn.execute("INSERT INTO gateways (id, enterprise_code) VALUES ('gw', %s)", (ENTERPRISE,))
        conn.execute(
            "INSERT INTO meters (id, enterprise_code, gateway_id, carrier, quantity, unit)"
            " SELECT 'm' || g, %s, 'gw', 'electricity', 'energy_import', 'kWh'"
            " FROM generate_series(0, %s) g",
            (ENTERPRISE, METERS - 1),
        )
    return name, url


def _empty(url: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute("TRUNCATE readings, reading_changes, dead_letters")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=5000)
    args = parser.parse_args()
    name, url = _database()
    folder = Path(tempfile.mkdtemp(prefix="clbench-readings-"))
    small, large = folder / "small.csv", folder / "large.csv"
    try:
        _write_csv(small, args.rows // 4, 0)
        _write_csv(large, args.rows, 0)
        import_readings(url, small, batch_size=args.batch, progress=io.StringIO())
        rss_small = _peak_rss_mb()
        _empty(url)
        began = time.perf_counter()
        report = import_readings(url, large, batch_size=args.batch, progress=sys.stderr)
        import_s = time.perf_counter() - began
        rss_large = _peak_rss_mb()
        assert report.stored == args.rows, report
        _empty(url)
        writer = BatchWriter(url)
        received = datetime.now(UTC)
        baseline_s = 0.0
        for at in range(0, args.rows, args.batch):
            rows = [(*r, received) for r in _rows(min(args.batch, args.rows - at), at)]
            message = Message("bench", b"", rows=rows, row_indexes=list(range(len(rows))))
            began = time.perf_counter()
            writer.write([message])
            baseline_s += time.perf_counter() - began
        writer.close()
    finally:
        for path in (small, large):
            path.unlink(missing_ok=True)
        folder.rmdir()
        drop_database(name)
    import_rate, baseline_rate = args.rows / import_s, args.rows / baseline_s
    print(
        f"baseline  BatchWriter, readings pre-built in memory  {baseline_rate:>10,.0f} readings/s"
    )
    print(f"import    readings import FILE.csv (both passes)    {import_rate:>10,.0f} readings/s")
    print(
        f"ratio     import / baseline                          {import_rate / baseline_rate:10.2f}"
    )
    print(
        f"peak RSS  after {args.rows // 4:,} rows {rss_small:.0f} MB,"
        f" after {args.rows:,} rows {rss_large:.0f} MB"
    )
    print(
        json.dumps(
            {
                "import_readings_per_s": round(import_rate),
                "baseline_readings_per_s": round(baseline_rate),
                "ratio": round(import_rate / baseline_rate, 3),
                "rows": args.rows,
                "batch": args.batch,
                "peak_rss_mb_quarter_file": round(rss_small, 1),
                "peak_rss_mb_full_file": round(rss_large, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
