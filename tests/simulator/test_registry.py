"""``register_city`` writes the simulated city into a real, freshly migrated registry."""

from __future__ import annotations

import psycopg

from simulator.city import build_city
from simulator.registry import register_city


def test_register_city_is_idempotent(db_url: str) -> None:
    city = build_city(5, seed=11)
    with psycopg.connect(db_url) as conn:
        assert register_city(conn, city) == (5, 5, len(city.meters))
        assert register_city(conn, city) == (0, 0, 0)
        stored = conn.execute(
            "SELECT count(*), count(DISTINCT enterprise_code), count(DISTINCT gateway_id),"
            " sum(CASE WHEN multiplier > 1 THEN 1 ELSE 0 END) FROM meters"
        ).fetchone()
    assert stored is not None
    assert stored[:3] == (len(city.meters), 5, 5)
    assert stored[3] == sum(1 for m in city.meters if m.multiplier > 1)
