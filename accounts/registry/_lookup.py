"""Reading the registry back for people: one enterprise in full, or a list of them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row

from carbonledger import uscc
from carbonledger.errors import UnknownEnterpriseError

_ENTERPRISE = """
SELECT code, name, industry_code, district, size_class, created_at, updated_at
FROM enterprises WHERE code = %s
"""
_SITES = "SELECT id, name, address FROM sites WHERE enterprise_code = %s ORDER BY id"
_GATEWAYS = """
SELECT gateway_id AS id, has_credential, revoked_at
FROM gateway_access WHERE enterprise_code = %s ORDER BY gateway_id
"""
_METERS = """
SELECT id, gateway_id, site_id, carrier, quantity, unit, multiplier, register_max, max_rate,
       role, source
FROM meters WHERE enterprise_code = %s ORDER BY id
"""
_ECONOMICS = """
SELECT period_kind, period_start, value_added, revenue, output_quantity, output_unit, source,
       submitted_at
FROM economic_data WHERE enterprise_code = %s ORDER BY period_kind DESC, period_start DESC
LIMIT %s
"""
_LIST = """
SELECT e.code, e.name, e.industry_code, e.district, e.size_class,
       (SELECT count(*) FROM meters m WHERE m.enterprise_code = e.code) AS meters,
       (SELECT max(period_start) FROM economic_data d
         WHERE d.enterprise_code = e.code AND d.period_kind = 'month') AS latest_month
FROM enterprises e
WHERE (%(district)s::text IS NULL OR e.district = %(district)s)
  AND (%(industry)s::text IS NULL OR e.industry_code LIKE %(industry)s || '%%')
ORDER BY e.district, e.industry_code, e.code
"""


@dataclass(frozen=True)
class EnterpriseDetails:
    """An enterprise with its sites, gateways, meters and latest economic data (rows as dicts)."""

    enterprise: dict[str, Any]
    sites: list[dict[str, Any]]
    gateways: list[dict[str, Any]]
    meters: list[dict[str, Any]]
    economics: list[dict[str, Any]]


def enterprise_details(
    conn: psycopg.Connection, code: str, economics: int = 24
) -> EnterpriseDetails:
    """Everything the registry holds on ``code``.

    ``code`` as typed (:func:`carbonledger.uscc.parse`): RegistryError for an invalid code,
    UnknownEnterpriseError for an unknown one.
    """
    code = uscc.parse(code)
    with conn.cursor(row_factory=dict_row) as cur:
        enterprise = cur.execute(_ENTERPRISE, (code,)).fetchone()
        if enterprise is None:
            raise UnknownEnterpriseError(code)
        return EnterpriseDetails(
            enterprise,
            cur.execute(_SITES, (code,)).fetchall(),
            cur.execute(_GATEWAYS, (code,)).fetchall(),
            cur.execute(_METERS, (code,)).fetchall(),
            cur.execute(_ECONOMICS, (code, economics)).fetchall(),
        )


def list_enterprises(
    conn: psycopg.Connection, *, district: str | None = None, industry: str | None = None
) -> list[dict[str, Any]]:
    """Enterprises (optionally of one district, or industry code prefix) with meter counts."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(_LIST, {"district": district, "industry": industry}).fetchall()
