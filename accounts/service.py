"""``carbonledger accounts run``: keeps the live accounts a few seconds behind the rollups.

Every ``accounts.refresh_s`` seconds, in one REPEATABLE READ snapshot:

1. Read the aggregator's watermark A (the lowest of its partitions): every ``reading_changes``
   row below A is in the rollups this snapshot sees (the aggregator moves its watermark in the
   transaction that writes the rollups).
2. The enterprises with change rows in [W, A) changed (W: our watermark); then W := A.
3. Refresh their live accounts (month to date, rolling 12 months, current year) and regrade.

Past months' activity is cached per enterprise: a change can reach back into an earlier month
only when the series had no usable reading earlier in the current month (the interval then
starts in a past month) or the change is in the month's first hour (the CEMS and power
integration gap); then that enterprise's cache is dropped. Everything is refreshed, caches
dropped, on start, when the registry, economic data or factor library change, when the day
changes, and every ``accounts.cache_ttl_s`` (a rollup ``aggregate recompute`` leaves no change
rows). Without an aggregator watermark (rollups written otherwise) every cycle refreshes all.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime

import psycopg
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from accounts._ledger import MonthActivity, read_activity
from accounts._period import SHANGHAI, local_midnight, month_start
from accounts._store import RefreshResult, all_codes, live_periods, refresh_live
from carbonledger.config import AccountsSettings
from carbonledger.errors import DatabaseUnavailableError

log = logging.getLogger(__name__)

# the partition set whose rows were updated last is the one running
_AGGREGATOR = """
SELECT min(txid) FROM aggregator_watermarks
WHERE partitions = (SELECT partitions FROM aggregator_watermarks ORDER BY updated_at DESC LIMIT 1)
"""
_CHANGED = """
SELECT c.enterprise_code,
       bool_and(c.first_time >= %(month)s + interval '1 hour' AND EXISTS (
           SELECT 1 FROM readings r WHERE r.meter_id = c.meter_id AND r.quantity = c.quantity
             AND r.time >= %(month)s AND r.time < c.first_time AND r.quality <> 'bad')),
       min(c.committed_at)
FROM reading_changes c WHERE c.txid >= %(w)s AND c.txid < %(a)s
GROUP BY c.enterprise_code
"""
_CONTEXT = """
SELECT (SELECT (count(*), max(updated_at))::text FROM enterprises),
       (SELECT (count(*), max(created_at), string_agg(coalesce(role, '') || coalesce(source, ''),
               ',' ORDER BY id))::text FROM meters),
       (SELECT (count(*), max(submitted_at))::text FROM economic_data),
       (SELECT (count(*), max(loaded_at))::text FROM factors),
       (SELECT (count(*), max(submitted_at))::text FROM measured_ncv),
       (SELECT (count(*), max(submitted_at))::text FROM green_power_purchases)
"""


@dataclass
class AccountsMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r, p = self.registry, "carbonledger_accounts_"
        self.cycles = Counter(f"{p}cycles", "refresh cycles run", registry=r)
        self.enterprises = Counter(f"{p}enterprises_refreshed", "enterprises refreshed", registry=r)
        self.accounts = Counter(f"{p}accounts_written", "live account rows written", registry=r)
        self.full = Counter(f"{p}full_refreshes", "cycles that refreshed everything", registry=r)
        self.seconds = Histogram(
            f"{p}cycle_seconds",
            "time of one refresh cycle",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
            registry=r,
        )
        self.freshness = Histogram(
            f"{p}freshness_seconds",
            "reading committed -> live account committed",
            buckets=(0.5, 1, 2, 3, 5, 10, 30, 60, 300),
            registry=r,
        )

        self.lag = Gauge(
            f"{p}lag_seconds", "age of the oldest change refreshed last cycle", registry=r
        )

    def serve(self, port: int, host: str = "127.0.0.1") -> None:
        start_http_server(port, addr=host, registry=self.registry)


@dataclass(frozen=True)
class CycleResult:
    refreshed: int
    full: bool
    result: RefreshResult | None


class LiveAccounts:
    """The ``accounts run`` loop; :meth:`cycle` is one refresh (tests call it directly)."""

    def __init__(
        self, conninfo: str, settings: AccountsSettings, metrics: AccountsMetrics | None = None
    ) -> None:
        self.conninfo = conninfo
        self.settings = settings
        self.metrics = metrics or AccountsMetrics()
        self.ready = threading.Event()
        self._watermark: object | None = None
        self._context: tuple[object, ...] | None = None
        self._day: date | None = None
        self._full_at = 0.0
        self._past: dict[str, tuple[date, list[MonthActivity]]] = {}  # code -> (month, rows)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                with psycopg.connect(
                    self.conninfo, application_name="carbonledger-accounts"
                ) as conn:
                    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
                    self.ready.set()
                    log.info("live accounts following the rollups")
                    while not stop.is_set():
                        self.cycle(conn)
                        stop.wait(self.settings.refresh_s)
            except psycopg.OperationalError as exc:
                self.ready.clear()
                log.warning("database unavailable; retrying in 2 s", extra={"error": str(exc)})
                stop.wait(2.0)

    def cycle(self, conn: psycopg.Connection, now: datetime | None = None) -> CycleResult:
        began = time.monotonic()
        try:
            with conn.transaction():
                outcome = self._cycle(conn, (now or datetime.now(SHANGHAI)).astimezone(SHANGHAI))
        except psycopg.OperationalError as exc:
            raise DatabaseUnavailableError(f"accounts refresh: {exc}") from exc
        m = self.metrics
        m.cycles.inc()
        m.seconds.observe(time.monotonic() - began)
        if outcome.result is not None:
            m.enterprises.inc(outcome.result.enterprises)
            m.accounts.inc(outcome.result.accounts)
            log.info(
                "live accounts refreshed",
                extra={
                    "enterprises": outcome.refreshed,
                    "full": outcome.full,
                    "accounts": outcome.result.accounts,
                    "grades": outcome.result.grades,
                    "seconds": round(time.monotonic() - began, 3),
                },
            )
        if outcome.full:
            m.full.inc()
        return outcome

    def _cycle(self, conn: psycopg.Connection, now: datetime) -> CycleResult:
        current = month_start(now.date())
        context = tuple(conn.execute(_CONTEXT).fetchone() or ())
        row = conn.execute(_AGGREGATOR).fetchone()
        aggregator = row[0] if row else None
        full = (
            context != self._context
            or now.date() != self._day
            or aggregator is None
            or self._watermark is None
            or time.monotonic() - self._full_at >= self.settings.cache_ttl_s
        )
        changed: dict[str, bool] = {}
        if not full and aggregator != self._watermark:
            rows = conn.execute(
                _CHANGED, {"w": self._watermark, "a": aggregator, "month": local_midnight(current)}
            ).fetchall()
            changed = {code.strip(): bool(this_month) for code, this_month, _ in rows}
            self._observe_lag(rows, now)
        if full:
            self._past.clear()
            codes = all_codes(conn)
            self._full_at = time.monotonic()
        else:
            for code, this_month in changed.items():
                if not this_month:
                    self._past.pop(code, None)
            codes = sorted(changed)
        self._watermark, self._context, self._day = aggregator, context, now.date()
        if not codes:
            return CycleResult(0, False, None)
        activity = {code: self._activity(conn, code, now, current) for code in codes}
        result = refresh_live(conn, self.settings, codes, now=now, activity=activity)
        return CycleResult(len(codes), full, result)

    def _activity(
        self, conn: psycopg.Connection, code: str, now: datetime, current: date
    ) -> list[MonthActivity]:
        """Past months from the cache (read once), the current month from the rollups."""
        cached = self._past.get(code)
        if cached is None or cached[0] != current:
            earliest = min(p.start for p in live_periods(now))
            rows = read_activity(conn, code, local_midnight(earliest), local_midnight(current))
            self._past[code] = cached = (current, rows)
        return cached[1] + read_activity(conn, code, local_midnight(current), now)

    def _observe_lag(self, rows: list[tuple[object, ...]], now: datetime) -> None:
        if not rows:
            return
        oldest = min(r[2] for r in rows)  # type: ignore[type-var]
        lag = max(0.0, (now - oldest).total_seconds())  # type: ignore[operator]
        self.metrics.freshness.observe(lag)
        self.metrics.lag.set(lag)
