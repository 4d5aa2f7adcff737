"""``simulate projects``: the demo's PV plant admitted, its boiler retrofit refused at screening
for want of baseline readings, the demo bank's loans imported through finance; idempotent."""

from __future__ import annotations

from datetime import datetime

import psycopg

from carbonledger.tz import SHANGHAI
from projects import Stage, read_projects
from simulator.city import build_city
from simulator.projects import register_projects
from simulator.registry import register_city

NOW = datetime(2026, 12, 4, 10, 0, tzinfo=SHANGHAI)


def test_demo_projects_and_loans(db_url: str) -> None:
    city = build_city(20, seed=11)
    with psycopg.connect(db_url, autocommit=True) as conn:
        register_city(conn, city)
        conn.execute("INSERT INTO banks (id, name) VALUES ('demo-bank', '演示银行')")
        said = register_projects(conn, city, "demo-bank", NOW)
        stages = {p.method.value: p.stage for p in read_projects(conn)}
        assert stages == {"generation": Stage.ADMITTED, "ipmvp_c": Stage.DECLARED}
        assert any("baseline" in line and "2025-01" in line for line in said), said
        loans = conn.execute("SELECT loan_id, project_id FROM loans ORDER BY loan_id").fetchall()
        assert len(loans) == 2 and all(p is not None for _, p in loans)
        again = register_projects(conn, city, "demo-bank", NOW)
        assert all("unchanged" in line or "in the library" in line for line in again), again
