"""The API's SQL, one module per resource, kept out of the routes.

A route decides who may ask, audits, pages and shapes the answer; the functions here only run
their statements on the route's connection (no connection or round trip of their own) and hand
back the rows, as dictionaries keyed by column name.
"""

from __future__ import annotations

from typing import Any

Row = dict[str, Any]
"""A row by column name, as ``psycopg.rows.dict_row`` makes it."""
