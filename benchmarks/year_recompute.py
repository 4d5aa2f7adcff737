"""Benchmark: every enterprise's account of a closed year recomputed (issue 15's year_recompute_s).

    .venv/bin/python benchmarks/year_recompute.py --enterprises 50000 --sample 20

Two scratch databases (dropped unless ``--keep``), with ``benchmarks/province.py``'s functions:

- the sample: ``--sample`` enterprises of the province with the closed year's 15-minute rollups
  (35,040 buckets per series, ``simulate history``'s writer); the year is closed, recomputed
  from the rollups (the baseline: how a recompute read before month sums), its months sealed
  and recomputed from the stored sums, which must leave every closed account unchanged;
- the province: ``--enterprises`` with the year's month sums written directly (no buckets: a
  province's year of them is 5 billion rows), the year closed (read, compute and write every
  account) and recomputed (read and compute): ``year_recompute_s``, measured, not scaled.

Prints the baseline scaled to the province, the ratio, and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import date, datetime

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import province

from carbonledger.tz import SHANGHAI
from simulator.city import build_city


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--enterprises", type=int, default=50_000)
    parser.add_argument("--sample", type=int, default=20, help="enterprises with buckets")
    parser.add_argument("--keep", action="store_true", help="keep the scratch databases")
    args = parser.parse_args()
    now = datetime.now(SHANGHAI).replace(microsecond=0)
    out: dict[str, object] = {"enterprises": args.enterprises, "year_sample": args.sample}
    began = time.perf_counter()
    city = build_city(args.enterprises, province.SEED, province.REGION)
    sample = build_city(args.sample, province.SEED, province.REGION)
    codes = [e.code for e in sample.enterprises]
    with province.scratch("clbench_months_sample", args.keep) as url:
        province.populate(url, sample, now.date(), now.date(), codes)
        figures = province.year_recompute(url, codes, now)
    out.update(figures)
    scale = args.enterprises / args.sample
    out["year_recompute_buckets_scaled_s"] = round(
        figures["year_recompute_sample_buckets_s"] * scale, 1
    )
    print(f"sample of {args.sample}: from 15-minute rollups"
          f" {figures['year_recompute_sample_buckets_s']} s, from month sums"
          f" {figures['year_recompute_sample_s']} s", flush=True)  # fmt: skip
    with province.scratch("clbench_months_province", args.keep) as url:
        province.populate(url, city, now.date(), now.date())
        out.update(province.year_recompute_province(url, city, now))
    baseline, measured = out["year_recompute_buckets_scaled_s"], out["year_recompute_s"]
    out["year_recompute_ratio"] = round(float(baseline) / max(float(measured), 1e-9), 1)  # type: ignore[arg-type]
    out["bench_minutes"] = round((time.perf_counter() - began) / 60, 1)
    out["year"] = date(now.year - 1, 1, 1).year
    for name, value in out.items():
        print(f"{name:<36}{value!s:>16}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
