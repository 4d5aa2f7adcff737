"""Bulk export: a million rows stream from a running server in bounded memory; only what the
key sees is exported."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import httpx
import orjson
import psutil
import psycopg
import pytest

from accounts.api._series import EXPORT_COLUMNS
from tests.accounts.api.helpers import ACCOUNT_ONLY, GRANTED, Server, World, auth

METERS = 20
BUCKETS = 50_000  # x 20 meters = 1,000,000 rows of 15 minutes (about 521 days)
START = datetime(2025, 1, 1, tzinfo=UTC)


def fill(url: str) -> None:
    """Rows made by the server (generate_series), not by Python loops."""
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO gateways (id, enterprise_code) VALUES ('gw-x', %s)", (GRANTED,))
        conn.execute(
            "INSERT INTO meters (id, enterprise_code, gateway_id, carrier, quantity, unit)"
            " SELECT 'x-' || i, %s, 'gw-x', 'electricity', 'energy_import', 'kWh'"
            " FROM generate_series(1, %s) i",
            (GRANTED, METERS),
        )
        conn.execute(
            "INSERT INTO rollups_15m (bucket, enterprise_code, meter_id, quantity, activity_fp,"
            " covered_ms, estimated_ms)"
            " SELECT %s::timestamptz + b * interval '15 min', %s, 'x-' || m, 'energy_import',"
            "        12345 + m, 900000, 0"
            " FROM generate_series(0, %s - 1) b, generate_series(1, %s) m",
            (START, GRANTED, BUCKETS, METERS),
        )
        # one row of an enterprise the bank may see only for accounts (not time series)
        conn.execute(
            "INSERT INTO gateways (id, enterprise_code) VALUES ('gw-y', %s)", (ACCOUNT_ONLY,)
        )
        conn.execute(
            "INSERT INTO meters (id, enterprise_code, gateway_id, carrier, quantity, unit)"
            " VALUES ('y-1', %s, 'gw-y', 'electricity', 'energy_import', 'kWh')",
            (ACCOUNT_ONLY,),
        )
        conn.execute(
            "INSERT INTO rollups_15m (bucket, enterprise_code, meter_id, quantity, activity_fp,"
            " covered_ms, estimated_ms) VALUES (%s, %s, 'y-1', 'energy_import', 1, 900000, 0)",
            (START, ACCOUNT_ONLY),
        )


@pytest.fixture(scope="module")
def filled(world: World) -> None:
    fill(world.url)


def test_a_million_rows_stream_in_bounded_memory(
    server: Server, world: World, filled: None
) -> None:
    process = psutil.Process(server.proc.pid)
    before = process.memory_info().rss
    peak = before
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.05):
            peak = max(peak, process.memory_info().rss)

    sampler = threading.Thread(target=sample)
    sampler.start()
    lines = size = 0
    first = b""
    params = {"format": "csv", "granularity": "15m", "from": "2025-01-01T00:00:00+00:00",
              "to": "2027-01-01T00:00:00+00:00"}  # fmt: skip
    try:
        with httpx.stream(
            "GET", f"{server.url}/v1/export", params=params, headers=auth(world.keys["bank"]),
            timeout=120,
        ) as response:  # fmt: skip
            assert response.status_code == 200
            for chunk in response.iter_bytes():
                if len(first) < 400:
                    first += chunk[:400]
                lines += chunk.count(b"\n")
                size += len(chunk)
    finally:
        done.set()
        sampler.join()
    assert lines == 1 + METERS * BUCKETS  # the header and every row, nothing of ACCOUNT_ONLY
    header, row = first.split(b"\n")[:2]
    assert header.decode().split(",") == list(EXPORT_COLUMNS)
    # the first bucket, meter x-1: activity_fp 12346 at scale 4 = 1.2346 kWh
    assert row.startswith(
        f"{GRANTED},2025-01-01T08:00:00+08:00,x-1,electricity,purchased,kWh,1.2346,".encode()
    )
    growth_mb = (peak - before) / 2**20
    assert size > 80 * 2**20  # 81 MiB here
    print(f"export: {size / 2**20:.0f} MiB, server RSS growth {growth_mb:.1f} MiB")
    assert growth_mb < 20, (
        f"server RSS grew {growth_mb:.0f} MB while streaming {size / 2**20:.0f} MB"
    )


def test_ndjson_sums_per_day_and_only_visible_enterprises(
    server: Server, world: World, filled: None
) -> None:
    params = {"format": "ndjson", "granularity": "day", "from": "2025-01-01T00:00:00+08:00",
              "to": "2025-01-02T00:00:00+08:00", "enterprise": [GRANTED, ACCOUNT_ONLY]}  # fmt: skip
    response = httpx.get(f"{server.url}/v1/export", params=params, headers=auth(world.keys["bank"]))
    rows = [orjson.loads(line) for line in response.content.splitlines()]
    assert {r["enterprise_code"] for r in rows} == {GRANTED}
    x1 = next(r for r in rows if r["meter_id"] == "x-1")
    # local day 2025-01-01 = 2024-12-31T16:00Z .. 2025-01-01T16:00Z; the data start at 00:00Z,
    # so 64 buckets (16 h x 4) fall in it: 64 x 1.2346 = 79.0144 kWh
    assert (x1["period_start"], x1["activity"]) == ("2025-01-01T00:00:00+08:00", "79.0144")
