"""Key rings in temporary folders, payloads by hand, and a closed annual account to certify."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from accounts.ledger import Period, close
from carbonledger.config import TrustSettings
from tests.accounts.ledger.helpers import PARTS, economics, local, register, rollup
from trust.keys import KeyRing, open_ring
from trust.tokens import CERTIFICATE_TYPE, utc_text

NOW = local("2026-02-05 10:00")
"""2025 is over and closes; certificates are issued at this time in the tests."""
CODE = PARTS


def ring(folder: Path, deployment: str = "city-a", now: datetime = NOW) -> KeyRing:
    return open_ring(TrustSettings(key_dir=folder, deployment_id=deployment), now)


def payload(**fields: Any) -> dict[str, Any]:
    """A certificate payload as issued at NOW for a year, valid one year."""
    base: dict[str, Any] = {
        "typ": CERTIFICATE_TYPE,
        "id": "crt_0123456789abcdef",
        "enterprise": {"code": CODE, "name": "龙泉括苍汽车部件有限公司"},
        "period": {"kind": "year", "label": "2025"},
        "grade": 2,
        "level": "低碳",
        "colour": "浅绿",
        "grading": ["huzhou-2021", "quzhou-colour-ours-1"],
        "l": "0.0415",
        "k": "0.8",
        "coverage": "0.9912",
        "tco2": "4.974",
        "verification": "unverified",
        "statement": None,
        "account_version": 1,
        "figures_sha256": "0" * 64,
        "iat": utc_text(NOW),
        "exp": utc_text(NOW + timedelta(days=365)),
    }
    return {**base, **fields}


def closed_year(conn: psycopg.Connection) -> Period:
    """PARTS's 2025 account, closed: 10 MWh imported in March, value added 100 万元."""
    register(conn, [CODE])
    for hour in range(10):
        rollup(conn, "prt-el1", "energy_import", local(f"2025-03-10 {hour:02d}:00"), "1000")
    economics(conn, CODE, "2025-01-01", "100", "300", kind="year")
    year = Period.parse("2025", NOW)
    close(conn, year, now=NOW)
    return year


def change_value_added(conn: psycopg.Connection, value: str) -> None:
    """What an adjustment corrects: the enterprise's reported value added for 2025."""
    conn.execute(
        "UPDATE economic_data SET value_added = %s WHERE enterprise_code = %s"
        " AND period_kind = 'year'",
        (value, CODE),
    )
