"""Benchmark: a full garbage collection in an API worker, as built, against after gc.freeze().

    .venv/bin/python benchmarks/api_gc.py

Builds the app the way a worker does (``create_app``, then its OpenAPI document; no database
is needed until the lifespan runs) and times full collections (``gc.collect()``) before and
after ``gc.freeze()``, which ``accounts/api/main.py`` calls at the end of startup. Under load a
worker runs such a collection every few seconds, and every request in flight waits for it.
The last line is one JSON object with both figures and their ratio.
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import sys
import time


def full_collection_ms(repeat: int) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        gc.collect()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def main() -> None:
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from accounts.api.main import create_app  # noqa: PLC0415 - after sys.path is set
    from carbonledger.config import load_settings  # noqa: PLC0415

    url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    create_app(load_settings(database_url=url)).openapi()
    gc.collect()
    tracked = len(gc.get_objects())
    before = full_collection_ms(5)
    gc.freeze()
    after = full_collection_ms(5)
    print(f"{tracked:,} tracked objects after startup")
    print(f"full collection: {before:.2f} ms as built, {after * 1000:.0f} µs after gc.freeze()")
    print(f"ratio: {before / after:,.0f}x")
    print(json.dumps({
        "tracked_objects": tracked,
        "full_collection_ms": round(before, 2),
        "frozen_full_collection_ms": round(after, 4),
        "ratio": round(before / after),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
