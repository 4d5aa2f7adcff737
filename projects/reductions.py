"""A project's measured reductions over a period: read its inputs once, then compute.

Periods are the accounts' (``YYYY-MM``, ``YYYY``, ``mtd``, ``rolling12``), in local time; a live
period runs to ``as_of``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

from accounts.ledger import Period
from projects._methods import compute
from projects._model import Stage
from projects._read import read_inputs, read_project, read_projects
from projects._result import Reductions, dec
from projects._rules import rules


def reductions(
    conn: psycopg.Connection[Any], project_id: str, period: Period, as_of: datetime
) -> Reductions:
    """UnknownProjectError, MethodError (no factor, no baseline data) when it cannot be done."""
    project = read_project(conn, project_id)
    months = period.months()
    inputs = read_inputs(conn, project, months, as_of)
    return compute(inputs, months, period.text, rules())


def live_lines(conn: psycopg.Connection[Any], as_of: datetime) -> list[str]:
    """One line per project in the library: its month-to-date measured reduction (the demo's
    and an operator's glance; ``projects show`` has the rest)."""
    period = Period.mtd(as_of)
    lines = []
    for project in read_projects(conn, stage=Stage.ADMITTED):
        found = reductions(conn, project.id, period, as_of)
        flags = sorted({f.split(":")[0] for m in found.months for f in m.flags} - {"live"})
        lines.append(
            f"  {project.id:<16} {project.method.value:<11} {dec(found.total, 3):>10} tCO2"
            f"  expected {dec(found.expected, 3)}  {' '.join(flags)}"
        )
    return lines
