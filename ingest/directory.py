"""Which meters and gateways exist and belong to whom: the registry as ingest needs it.

Ingest authorises every reading against the topic it came on: the gateway must be registered to
the topic's enterprise and not revoked, and the meter must belong to that enterprise. Unknown ids
are looked up once and remembered as unknown for a short while, so a flood of readings from an
unregistered meter costs one query per interval, not one per reading; a meter registered later is
picked up without a restart.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import psycopg

NEGATIVE_TTL_S = 5.0
_GATEWAYS = "SELECT gateway_id, enterprise_code, revoked_at IS NOT NULL FROM gateway_access"


class Directory:
    def __init__(self) -> None:
        self._meter_enterprise: dict[str, str] = {}
        self._gateway: dict[str, tuple[str, bool]] = {}  # id -> (enterprise, revoked)
        self._unknown_until: dict[str, float] = {}

    def load(self, conn: psycopg.Connection) -> None:
        """Read the whole registry (at start-up)."""
        self._meter_enterprise = dict(
            conn.execute("SELECT id, enterprise_code FROM meters").fetchall()
        )
        self._gateway = {gid: (ent, revoked) for gid, ent, revoked in conn.execute(_GATEWAYS)}
        self._unknown_until.clear()

    def resolve(
        self, conn: psycopg.Connection, gateways: Iterable[str], meters: Iterable[str]
    ) -> None:
        """Look up the ids not seen before (and not recently found unknown)."""
        now = time.monotonic()
        missing_gw = [g for g in set(gateways) if g not in self._gateway and self._stale(g, now)]
        missing_m = [
            m for m in set(meters) if m not in self._meter_enterprise and self._stale(m, now)
        ]
        if missing_gw:
            for gid, ent, revoked in conn.execute(
                _GATEWAYS + " WHERE gateway_id = ANY(%s)",
                (missing_gw,),
            ):
                self._gateway[gid] = (ent, revoked)
        if missing_m:
            self._meter_enterprise.update(
                conn.execute(
                    "SELECT id, enterprise_code FROM meters WHERE id = ANY(%s)", (missing_m,)
                ).fetchall()
            )
        for key in (*missing_gw, *missing_m):
            if key not in self._gateway and key not in self._meter_enterprise:
                self._unknown_until[key] = now + NEGATIVE_TTL_S

    def _stale(self, key: str, now: float) -> bool:
        return self._unknown_until.get(key, 0.0) <= now

    def gateway_problem(self, enterprise: str, gateway: str) -> str | None:
        """Why this gateway may not publish for this enterprise, or None when it may."""
        entry = self._gateway.get(gateway)
        if entry is None:
            return f"unknown gateway {gateway!r}"
        owner, revoked = entry
        if owner != enterprise:
            return f"gateway {gateway!r} is registered to enterprise {owner}, not {enterprise}"
        if revoked:
            return f"gateway {gateway!r} is revoked"
        return None

    def enterprise_of(self, meter: str) -> str | None:
        """The enterprise of a meter :meth:`load` or :meth:`resolve` found, or None."""
        return self._meter_enterprise.get(meter)

    def meter_problem(self, enterprise: str, meter: str) -> str | None:
        """Why this meter's readings may not come from this enterprise's topic, or None."""
        owner = self._meter_enterprise.get(meter)
        if owner is None:
            return f"unknown meter {meter!r}"
        if owner != enterprise:
            return f"meter {meter!r} belongs to enterprise {owner}, not {enterprise}"
        return None
