"""``carbonledger accounts run``: keeps the live accounts a few seconds behind the rollups.

Every ``accounts.refresh_s`` seconds, reading in one REPEATABLE READ snapshot:

1. Read the aggregator's watermark A (the lowest of its partitions): every ``reading_changes``
   row below A is in the rollups this snapshot sees (the aggregator moves its watermark in the
   transaction that writes the rollups).
2. The enterprises with change rows in [W, A) changed (W: our watermark); then W := A.
3. Refresh their live accounts (month to date, rolling 12 months, current year), computed
   from that snapshot and written ``accounts.write_chunk`` enterprises at a time, each chunk
   in a transaction of its own (:meth:`LiveAccounts._committed_cycle`: the reading snapshot
   holds no transaction id and no write holds one long, so the aggregator's watermark is not
   held back by a cycle); the grades follow once they commit (below).

Past months' activity is cached per enterprise: a change can reach back into an earlier month
only when the series had no usable reading earlier in the current month (the interval then
starts in a past month) or the change is in the month's first hour (the CEMS and power
integration gap); then that enterprise's cache is dropped. A change of the meters (roles,
sources) drops every cache. Every enterprise is refreshed (from the caches) on start, when the
registry, economic data or factor library change, when the day changes and every
``accounts.cache_ttl_s``: spread over ``accounts.spread_s``, a slice per cycle, while the changed
enterprises are refreshed every cycle (:mod:`accounts.ledger._owed`: the bound it keeps); and on
every cycle while there is no aggregator watermark (rollups written otherwise). The oldest cache
is re-read once it is ``cache_ttl_s`` old, one per cycle (an ``aggregate recompute`` leaves no
change rows).

The current month is kept the same way up to a frontier 75 minutes back
(:mod:`accounts.ledger._month_cache`): a cycle reads the rollups since the frontier only.
What the accounts take from the cached past months (month parts, the lines' exact sums, whole
months' economic figures, factor selections) is kept with them (:mod:`accounts.ledger._known`)
and dropped with them, or all of it when the registry, economic data, factors or day change.

Grades are written after the accounts commit, in a transaction of their own, at most every
``accounts.grade_s`` (:meth:`LiveAccounts._grade`), by a thread of their own with its own
connection (:meth:`LiveAccounts._grading`): a grading does not hold the next cycle. With
``accounts.partitions`` > 1 several processes split the enterprises
(:mod:`accounts.ledger._partitions`); each writes its accounts, then grades all of them.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

import psycopg
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from accounts.ledger._grading import band_set
from accounts.ledger._inputs import MonthActivity
from accounts.ledger._known import KnownMonths
from accounts.ledger._month_cache import REACHES_BACK, MonthToDate, frontier
from accounts.ledger._owed import Owed
from accounts.ledger._partitions import PART_OF, Partitions
from accounts.ledger._period import local_midnight, month_start
from accounts.ledger._read import read_activities
from accounts.ledger._store import (
    LiveInputs,
    RefreshResult,
    all_codes,
    live_periods,
    read_live,
    regrade_live,
    write_live,
)
from carbonledger.config import AccountsSettings
from carbonledger.errors import DatabaseUnavailableError
from carbonledger.tz import SHANGHAI

log = logging.getLogger(__name__)

_LOCK = 0x61_63_63_74  # "acct": the session advisory lock of the one live refresher
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
       min(c.committed_at), {reaches_back}
FROM reading_changes c WHERE c.txid >= %(w)s AND c.txid < %(a)s AND {part}
GROUP BY c.enterprise_code
"""
_GRADER = 0x61_63_67_72  # "acgr": one partitioned process regrades at a time
# what booked activity depends on (a change drops every cache), then what the accounts do
_METERS = """
SELECT (count(*), max(created_at), string_agg(concat_ws('/', id, carrier, quantity, role, source),
        ',' ORDER BY id))::text FROM meters
"""
_CONTEXT = """
SELECT (SELECT (count(*), max(updated_at))::text FROM enterprises),
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
        self.full = Counter(
            f"{p}full_refreshes", "cycles that owed every enterprise a refresh", registry=r
        )
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


@dataclass
class _Cache:
    """An enterprise's booked activity of the months before ``through``."""

    through: date
    rows: list[MonthActivity]
    read_at: float


@dataclass(frozen=True)
class CycleResult:
    refreshed: int
    full: bool  # every enterprise was owed a refresh (refreshed over ``accounts.spread_s``)
    result: RefreshResult | None
    owed: int = 0  # enterprises still owed one after this cycle


@dataclass(frozen=True)
class _Planned:
    """A cycle's reads, to be written (:meth:`LiveAccounts._committed_cycle`)."""

    live: LiveInputs
    full: bool
    clock: float  # when the cycle started, by the service's clock


class LiveAccounts:
    """The ``accounts run`` loop; :meth:`cycle` is one refresh (tests call it directly)."""

    def __init__(
        self,
        conninfo: str,
        settings: AccountsSettings,
        metrics: AccountsMetrics | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``clock``: the seconds the schedules (``grade_s``, ``cache_ttl_s``, ``spread_s``)
        count; tests pass their own."""
        self.conninfo = conninfo
        self.clock = clock
        self.settings = settings
        self.metrics = metrics or AccountsMetrics()
        self.ready = threading.Event()
        for version in (settings.band_version, settings.colour_version):
            band_set(version)  # a bad band file or version fails here, not mid-service
        self._watermark: object | None = None
        self._context: tuple[object, ...] | None = None
        self._day: date | None = None
        self._meters: object | None = None
        self._full_at = 0.0
        self._oldest: datetime | None = None  # the oldest change of the cycle, committed at
        self._owed = Owed()  # enterprises owed a refresh by a change of every one's inputs
        self._past: dict[str, _Cache] = {}
        self._known = KnownMonths()  # what the accounts take from the cached months
        self._ungraded = threading.Event()  # accounts written since the last grading began
        self._graded_at = -float("inf")
        self._month = MonthToDate()  # the current month's sums up to a frontier
        # accounts.partitions > 1: this process refreshes the partitions it holds
        self.partitions = Partitions(settings.partitions) if settings.partitions > 1 else None

    def run(self, stop: threading.Event) -> None:
        """Cycles every ``accounts.refresh_s``; the grading runs in a thread of its own
        (:meth:`_grading`), so that regrading every account does not hold the next cycle."""
        failed: list[BaseException] = []
        grader = threading.Thread(target=self._grading, args=(stop, failed), name="accounts-grades")
        grader.start()
        try:
            self._cycles(stop)
        finally:
            stop.set()
            grader.join()
        if failed:  # the grading failed otherwise than by the database: the service stops
            raise failed[0]

    def _cycles(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                with psycopg.connect(
                    self.conninfo, application_name="carbonledger-accounts", autocommit=True
                ) as conn:
                    if self.partitions is None:
                        self._lock(conn)
                    else:  # a new session holds nothing yet
                        self.partitions = Partitions(self.settings.partitions)
                    conn.autocommit = False
                    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
                    self.ready.set()
                    log.info("live accounts following the rollups")
                    while not stop.is_set():
                        self.cycle(conn, grade=False)
                        stop.wait(self.settings.refresh_s)
            except (DatabaseUnavailableError, psycopg.OperationalError) as exc:
                self.ready.clear()
                log.warning("live accounts waiting; retrying in 2 s", extra={"error": str(exc)})
                stop.wait(2.0)

    @staticmethod
    def _lock(conn: psycopg.Connection) -> None:
        """One refresher per database: a second `accounts run` waits as a standby."""
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", (_LOCK,)).fetchone()
        if not row or not row[0]:
            raise DatabaseUnavailableError("another `accounts run` refreshes this database")

    def _grading(self, stop: threading.Event, failed: list[BaseException]) -> None:
        """The grades, on a connection of their own, once accounts were written and
        ``accounts.grade_s`` passed since the last grading. The GIL is shared with the cycles:
        what runs in parallel is the database's part of both (reads, upserts)."""
        while not stop.is_set():
            try:
                with psycopg.connect(
                    self.conninfo, application_name="carbonledger-accounts-grades"
                ) as conn:
                    while not stop.is_set():
                        wait = self._graded_at + self.settings.grade_s - self.clock()
                        if wait > 0:
                            stop.wait(min(wait, 1.0))
                        elif self._ungraded.wait(0.5):
                            began = time.monotonic()
                            graded = self._grade(conn, datetime.now(SHANGHAI))
                            log.info("live grades written", extra={
                                "grades": graded, "seconds": round(time.monotonic() - began, 3)
                            })  # fmt: skip
            except psycopg.OperationalError as exc:
                log.warning("live grades waiting; retrying in 2 s", extra={"error": str(exc)})
                stop.wait(2.0)
            except BaseException as exc:  # noqa: BLE001 - raised again by run()
                failed.append(exc)
                stop.set()

    def cycle(
        self, conn: psycopg.Connection, now: datetime | None = None, *, grade: bool = True
    ) -> CycleResult:
        """One refresh; ``grade`` False leaves the grades to :meth:`_grading` (``run``)."""
        began = time.monotonic()
        now = (now or datetime.now(SHANGHAI)).astimezone(SHANGHAI)
        try:
            outcome = self._committed_cycle(conn, now)
            waited = None if self._oldest is None else datetime.now(SHANGHAI) - self._oldest
            self._known.confirm()  # each committed chunk did, unless in a caller's transaction
            if outcome.result is not None:
                self._ungraded.set()
            graded = self._grade(conn, now) if grade and self._grading_due() else None
        except psycopg.OperationalError as exc:
            raise DatabaseUnavailableError(f"accounts refresh: {exc}") from exc
        oldest = None if waited is None else round(waited.total_seconds(), 3)
        m = self.metrics
        m.cycles.inc()
        m.seconds.observe(time.monotonic() - began)
        if outcome.result is not None:
            for code, problem in outcome.result.failed.items():
                log.warning("live account not refreshed", extra={"enterprise": code,
                                                                 "error": problem})  # fmt: skip
            m.enterprises.inc(outcome.result.enterprises)
            m.accounts.inc(outcome.result.accounts)
            log.info(
                "live accounts refreshed",
                extra={
                    "enterprises": outcome.refreshed,
                    "full": outcome.full,
                    "owed": outcome.owed,
                    "accounts": outcome.result.accounts,
                    "grades": graded,
                    # the longest wait of a reading this cycle took: committed -> its accounts
                    "oldest_change_s": oldest,
                    "seconds": round(time.monotonic() - began, 3),
                },
            )
        if outcome.full:
            m.full.inc()
        return outcome

    def _committed_cycle(self, conn: psycopg.Connection, now: datetime) -> CycleResult:
        """:meth:`_cycle`'s reads in one REPEATABLE READ transaction, then the accounts written
        in chunks, each a transaction of its own (:func:`~accounts.ledger._store.write_live`).

        The reads (watermark A, the changes in [W, A), the activities and every other input)
        are one snapshot and write nothing, so that transaction holds no transaction id: the
        aggregator's watermark passes it. The accounts are computed from that snapshot alone;
        a chunk's transaction only upserts them (its own, later snapshot decides nothing but
        which stored rows are still live), so the accounts are what one transaction would have
        written, and every reading below A is in them once the last chunk commits. No other
        process writes these enterprises' live rows meanwhile (one refresher per database or
        per partition, whose session lock this process holds until its next cycle).

        A failure anywhere leaves the watermark where it was, so the changes it took are the
        next cycle's (not lost until a full refresh), and owes everyone a refresh again
        (spread), as it may have paid what it did not write; the chunks that committed hold
        accounts of this snapshot, which the next cycle rewrites."""
        watermark = self._watermark
        try:
            with conn.transaction():
                moved = self.partitions.balance(conn) if self.partitions else False
                planned = self._cycle(conn, now, moved=moved)
            if isinstance(planned, CycleResult):
                return planned
            result = write_live(conn, planned.live, known=self._known)
            self._owed.paid(planned.live.codes, planned.clock)
            return CycleResult(len(planned.live.codes), planned.full, result, len(self._owed))
        except BaseException:
            self._watermark = watermark
            self._full_at = -math.inf
            raise

    def _grading_due(self) -> bool:
        due = self.clock() - self._graded_at >= self.settings.grade_s
        return self._ungraded.is_set() and due

    def _grade(self, conn: psycopg.Connection, now: datetime) -> int:
        """Grades need every account of a period (industry L), so they are written after the
        accounts commit, in a READ COMMITTED transaction of their own: the accounts' transaction
        stays short (the aggregator's watermark cannot pass a transaction that writes), and a
        partitioned process sees the other partitions' accounts too. One process grades at a
        time; a process that waited for another's grading grades again, so the last accounts
        committed are always graded. At most every ``accounts.grade_s``."""
        isolation = conn.isolation_level
        conn.isolation_level = psycopg.IsolationLevel.READ_COMMITTED
        self._ungraded.clear()  # accounts committed from here on are graded again
        try:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_GRADER,))
                graded = regrade_live(conn, self.settings, now)
        except BaseException:
            self._ungraded.set()
            raise
        finally:
            conn.isolation_level = isolation
        self._graded_at = self.clock()
        return graded

    def _part(self, column: str) -> tuple[str, dict[str, object]]:
        if self.partitions is None:
            return "true", {}
        return PART_OF.format(column=column), self.partitions.params()

    def _cycle(
        self, conn: psycopg.Connection, now: datetime, *, moved: bool
    ) -> CycleResult | _Planned:
        """The cycle's reads: what changed, and the inputs of whom to refresh (or the result,
        when nobody is)."""
        self._oldest = None
        if self.partitions is not None and not self.partitions.held:
            return CycleResult(0, False, None)  # a standby: the others hold every partition
        if moved:  # partitions taken or given back: what is cached may not be ours
            self._forget()
            self._context = None
        current = month_start(now.date())
        meters = conn.execute(_METERS).fetchone()
        context = tuple(conn.execute(_CONTEXT).fetchone() or ())
        row = conn.execute(_AGGREGATOR).fetchone()
        aggregator = row[0] if row else None
        if meters != self._meters or aggregator is None:
            # roles, sources or meters changed: booked activity differs; no aggregator: the
            # rollups may be written without change rows, so nothing can be cached
            self._forget()
        if (meters, context, now.date()) != (self._meters, self._context, self._day):
            self._known.clear()  # the factors chosen or the economic figures may differ
        changed = self._changed(conn, aggregator, now, current)
        for code, (this_month, back) in changed.items():
            if not this_month:  # the change reaches back into a past month
                self._past.pop(code, None)
            if back or not this_month:  # ... or before the current month's kept sums
                self._month.drop(code)
        clock = self.clock()
        full = (
            (meters, context) != (self._meters, self._context)
            or now.date() != self._day
            or aggregator is None
            or self._watermark is None
            or clock - self._full_at >= self.settings.cache_ttl_s
        )
        codes = set(changed)
        if full:
            every = all_codes(conn) if self.partitions is None else self.partitions.codes(conn)
            # no aggregator: nothing is known of what changed, so everyone, every cycle
            self._owed.owe(every, clock, 0.0 if aggregator is None else self.settings.spread_s)
            self._full_at = clock
        codes |= self._owed.due(clock)
        codes |= self._expire_one()
        self._watermark, self._meters, self._context = aggregator, meters, context
        self._day = now.date()
        if not codes:
            return CycleResult(0, full, None, len(self._owed))
        ordered = sorted(codes)
        activity = self._activities(conn, ordered, now, current)
        live = read_live(conn, self.settings, ordered, now=now, activity=activity)
        return _Planned(live, full, clock)  # the grades: see _grade

    def _changed(
        self, conn: psycopg.Connection, aggregator: object, now: datetime, current: date
    ) -> dict[str, tuple[bool, bool]]:
        """Enterprises with change rows in [W, A): (within the current month, reaching back
        before the current month's frontier)."""
        if self._watermark is None or aggregator in (None, self._watermark):
            return {}
        part, params = self._part("c.enterprise_code")
        query = _CHANGED.format(part=part, reaches_back=REACHES_BACK)
        rows = conn.execute(
            query,
            {
                "w": self._watermark,
                "a": aggregator,
                "month": local_midnight(current),
                "frontier": frontier(now, current),
                **params,
            },
        ).fetchall()
        self._observe_lag(rows, now)
        return {code.strip(): (bool(this_month), bool(back)) for code, this_month, _, back in rows}

    def _forget(self) -> None:
        self._past.clear()
        self._month.clear()
        self._known.clear()

    def _expire_one(self) -> set[str]:
        """Drop the oldest cache once it is ``cache_ttl_s`` old (one per cycle, so the cost of
        re-reading past months is spread out): an ``aggregate recompute`` leaves no change rows."""
        if not self._past:
            return set()
        code, cache = min(self._past.items(), key=lambda item: item[1].read_at)
        if self.clock() - cache.read_at < self.settings.cache_ttl_s:
            return set()
        del self._past[code]
        self._month.drop(code)
        return {code}

    def _activities(
        self, conn: psycopg.Connection, codes: Sequence[str], now: datetime, current: date
    ) -> dict[str, list[MonthActivity]]:
        """Past months from the caches, the current month from its kept sums and the rollups
        since its frontier: one query for the recent buckets of every enterprise, one for the
        enterprises without a cache.

        A new month adds the one that just ended to a cache instead of re-reading a year.
        """
        earliest = min(p.start for p in live_periods(now))
        mem = self.settings.read_work_mem
        uncached = [code for code in codes if code not in self._past]
        if uncached:
            read_at = self.clock()
            past = read_activities(
                conn, uncached, local_midnight(earliest), local_midnight(current), work_mem=mem
            )
            for code, rows in past.items():
                self._past[code] = _Cache(current, rows, read_at)
        behind: dict[date, list[str]] = defaultdict(list)
        for code in codes:
            if (through := self._past[code].through) != current:
                behind[through].append(code)
        for through, stale in behind.items():
            ended = read_activities(
                conn, stale, local_midnight(through), local_midnight(current), work_mem=mem
            )
            for code in stale:
                cache = self._past[code]
                kept = [a for a in cache.rows if a.month >= earliest]
                cache.rows, cache.through = kept + ended[code], current
        now_month = self._month.activity(conn, codes, now, current, work_mem=mem)
        for code in codes:
            self._known.remember(code, self._past[code].rows)
        return {code: self._past[code].rows + now_month[code] for code in codes}

    def _observe_lag(self, rows: list[tuple[object, ...]], now: datetime) -> None:
        if not rows:
            return
        oldest: datetime = min(r[2] for r in rows)  # type: ignore[type-var,assignment]
        self._oldest = oldest
        lag = max(0.0, (now - oldest).total_seconds())
        self.metrics.freshness.observe(lag)
        self.metrics.lag.set(lag)
