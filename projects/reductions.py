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
from projects._read import read_inputs, read_project
from projects._result import Reductions
from projects._rules import rules


def reductions(
    conn: psycopg.Connection[Any], project_id: str, period: Period, as_of: datetime
) -> Reductions:
    """UnknownProjectError, MethodError (no factor, no baseline data) when it cannot be done."""
    project = read_project(conn, project_id)
    months = period.months()
    inputs = read_inputs(conn, project, months, as_of)
    return compute(inputs, months, period.text, rules())
