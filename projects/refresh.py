"""Keep ``project_reductions`` (the cockpit's cache) current: every project in the library, each
month of the current year so far, recomputed from the booked rollups.

A cache for Grafana only: the API, the commands and the disclosure compute afresh.
"""

from __future__ import annotations

import logging
from datetime import datetime
from fractions import Fraction
from typing import Any

import psycopg

from accounts.ledger import Period
from projects._errors import MethodError
from projects._methods import compute
from projects._model import Stage
from projects._read import read_factors, read_inputs, read_projects
from projects._result import Reductions, dec
from projects._rules import rules

log = logging.getLogger(__name__)


def refresh(conn: psycopg.Connection[Any], as_of: datetime) -> list[Reductions]:
    """Recompute and store this year's months of every admitted project (one transaction per
    project); a project whose method cannot run is logged and skipped, never the others."""
    year = Period.parse(f"{as_of:%Y}", as_of)
    factors = read_factors(conn)
    done = []
    for project in read_projects(conn, stage=Stage.ADMITTED):
        months = year.months()
        try:
            found = compute(read_inputs(conn, project, months, as_of, factors), months,
                            year.text, rules())  # fmt: skip
        except MethodError as exc:
            log.warning("project %s: %s", project.id, exc)
            continue
        annual = Fraction(project.expected_annual_tco2)
        rows = [
            (
                project.id,
                m.month,
                None if m.reduction is None else dec(m.reduction),
                dec(annual * m.share / 12),
                dec(m.coverage, 4),
                m.share < 1,
                list(m.flags),
                as_of,
            )
            for m in found.months
        ]
        with conn.transaction(), conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO project_reductions (project_id, month, reduction_tco2, expected_tco2,"
                " coverage, live, flags, computed_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (project_id, month) DO UPDATE SET"
                " reduction_tco2 = EXCLUDED.reduction_tco2, expected_tco2 = EXCLUDED.expected_tco2,"
                " coverage = EXCLUDED.coverage, live = EXCLUDED.live, flags = EXCLUDED.flags,"
                " computed_at = EXCLUDED.computed_at",
                rows,
            )
        done.append(found)
    return done


def live_lines(conn: psycopg.Connection[Any], as_of: datetime) -> list[str]:
    """Refresh, then one line per project in the library: its measured reduction this month
    and this year so far (the demo's glance; ``projects show`` has the rest)."""
    lines = []
    for found in refresh(conn, as_of):
        if not found.months:
            continue
        month = found.months[-1]
        value = "—" if month.reduction is None else f"{dec(month.reduction, 3)}"
        flags = " ".join(sorted({f.split(":")[0] for f in month.flags} - {"live"}))
        lines.append(
            f"  {found.project_id:<16} {found.method:<11} month {value:>10} tCO2,"
            f" year {dec(found.total, 3)} tCO2  {flags}"
        )
    return lines
