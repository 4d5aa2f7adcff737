"""Every database read an account needs, in bulk: the SQL side of the ledger.

One call of :func:`read_inputs` reads the inputs of many enterprises' accounts for a few periods
(the live refresh: every enterprise, three periods) in a handful of queries, one per kind of
input, whatever the number of enterprises; :mod:`accounts.ledger._compute` then works on plain
objects.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import psycopg

from accounts.ledger._inputs import (
    AccountInputs,
    EconomicRow,
    Enterprise,
    GreenPurchase,
    MonthActivity,
)
from accounts.ledger._model import EnterpriseInfo
from accounts.ledger._period import Period, add_months, local_midnight, month_start
from accounts.ledger._policy import Factor, FactorLibrary, MeasuredNcv
from carbonledger.config import AccountsSettings
from carbonledger.errors import AccountsError, UnknownEnterpriseError
from carbonledger.tz import SHANGHAI

_FACTOR_COLUMNS = (
    "id, version, kind, subject, series, value, unit, ncv, ncv_unit, carbon_content, oxidation,"
    " guideline, source, document, data_year, published, region, valid_from, valid_to, verify"
)
# booked_rollups (0008_accounts.sql) summed per enterprise, meter, quantity and local month, with
# the rollups aggregated before the joins: the view's joins keep or drop whole (meter, quantity)
# groups and add only what depends on them, so the sums are the same, and a hash aggregate of four
# keys replaces a sort on disk of eleven (10 s -> 2 s for 2.6 million rollups). The months in
# [%(a)s, %(b)s) are sealed ones, whole inside [lo, hi): their sums are read as stored
# (rollup_months, migration 0018, the same integers), the rest of [lo, hi) from the buckets.
_ACTIVITY = """
WITH r AS (
    SELECT enterprise_code, meter_id, quantity, month, activity_fp, covered_ms, estimated_ms,
           buckets, last_bucket
    FROM rollup_months
    WHERE enterprise_code = ANY(%(codes)s::bpchar[]) AND month >= %(ma)s AND month < %(mb)s
    UNION ALL
    SELECT enterprise_code, meter_id, quantity,
           (date_trunc('month', bucket AT TIME ZONE 'Asia/Shanghai'))::date AS month,
           sum(activity_fp) AS activity_fp, sum(covered_ms) AS covered_ms,
           sum(estimated_ms) AS estimated_ms, count(*) AS buckets, max(bucket) AS last_bucket
    FROM rollups_15m
    WHERE enterprise_code = ANY(%(codes)s::bpchar[])
      AND (bucket >= %(lo)s AND bucket < %(a)s OR bucket >= %(b)s AND bucket < %(hi)s)
    GROUP BY enterprise_code, meter_id, quantity, month
)
SELECT r.enterprise_code, r.meter_id, m.carrier, r.quantity, x.role,
       coalesce(m.source, m.carrier),
       CASE WHEN x.role IN ('combustion', 'process') THEN 1
            WHEN x.role IN ('purchased', 'exported') THEN 2 END::smallint,
       CASE WHEN x.role = 'exported' THEN -1 ELSE 1 END, q.unit, q.scale, r.month,
       r.activity_fp, r.covered_ms, r.estimated_ms, r.buckets, r.last_bucket
FROM r
JOIN meters m ON m.id = r.meter_id
JOIN booking_rules b ON b.carrier = m.carrier AND b.quantity = r.quantity
JOIN rollup_quantities q ON q.quantity = r.quantity
CROSS JOIN LATERAL (SELECT CASE WHEN r.quantity = m.quantity THEN coalesce(m.role, b.role)
                                ELSE b.role END AS role) x
WHERE NOT b.only_own OR r.quantity = m.quantity
"""
_SEALED_BEFORE = "SELECT sealed_before FROM rollup_seal"
# the aggregate of a large read stays in memory (local to the transaction; 4 MB by default)
_WORK_MEM = "SELECT set_config('work_mem', %s, true)"


def load_library(conn: psycopg.Connection, settings: AccountsSettings) -> FactorLibrary:
    """The whole ``factors`` table under the policy of ``settings``."""
    rows = conn.execute(f"SELECT {_FACTOR_COLUMNS} FROM factors").fetchall()
    if not rows:
        raise AccountsError(
            "the factor library is empty: run `carbonledger db migrate` or"
            " `carbonledger accounts factors load`"
        )
    return FactorLibrary([Factor(*row) for row in rows], settings)


def read_activities(
    conn: psycopg.Connection,
    codes: Sequence[str],
    lo: datetime,
    hi: datetime,
    *,
    work_mem: str = "64MB",
) -> dict[str, list[MonthActivity]]:
    """Booked activity per month of every enterprise of ``codes`` in [lo, hi)."""
    out: dict[str, list[MonthActivity]] = {code: [] for code in codes}
    if not conn.autocommit:
        conn.execute(_WORK_MEM, (work_mem,))
    a, b = sealed_span(lo, hi, _sealed_before(conn))
    months = {"ma": a.astimezone(SHANGHAI).date(), "mb": b.astimezone(SHANGHAI).date()}
    params = {"codes": list(codes), "lo": lo, "hi": hi, "a": a, "b": b, **months}
    for code, *row in conn.execute(_ACTIVITY, params).fetchall():
        m, c, q, r, s, sc, sg, u, sca, mo, a, cv, es, n, last = row
        out[code.strip()].append(
            MonthActivity(m, c, q, r, s, sc, sg, u, sca, mo, int(a), int(cv), int(es), int(n), last)
        )
    return out


def sealed_span(lo: datetime, hi: datetime, sealed_before: date) -> tuple[datetime, datetime]:
    """[a, b): the whole local months inside [lo, hi) that are before ``sealed_before``, whose
    sums are stored; a == b == hi when there are none (everything is read from the buckets)."""
    first = month_start(lo.astimezone(SHANGHAI).date())
    a = local_midnight(first)
    if a < lo:
        a = local_midnight(add_months(first, 1))
    b = min(
        local_midnight(sealed_before), local_midnight(month_start(hi.astimezone(SHANGHAI).date()))
    )
    return (a, b) if a < b else (hi, hi)


def _sealed_before(conn: psycopg.Connection) -> date:
    row = conn.execute(_SEALED_BEFORE).fetchone()
    assert row is not None  # noqa: S101 - migration 0018 inserts the one row
    return row[0]  # type: ignore[no-any-return]


def read_enterprises(conn: psycopg.Connection, codes: Sequence[str]) -> dict[str, Enterprise]:
    """The registered enterprises among ``codes`` with their meters (unknown codes are absent)."""
    infos = {
        row[0].strip(): EnterpriseInfo(
            code=row[0].strip(), name=row[1], industry_code=row[2], district=row[3],
            size_class=row[4],
        )
        for row in conn.execute(
            "SELECT code, name, industry_code, district, size_class FROM enterprises"
            " WHERE code = ANY(%s)",
            (list(codes),),
        )
    }  # fmt: skip
    meters: dict[str, dict[str, str]] = {code: {} for code in infos}
    for code, meter, carrier, quantity in conn.execute(
        "SELECT enterprise_code, id, carrier, quantity FROM meters WHERE enterprise_code = ANY(%s)",
        (list(infos),),
    ):
        meters[code.strip()][meter] = "co2_mass" if carrier == "flue_gas" else quantity
    return {code: Enterprise(info, meters[code]) for code, info in infos.items()}


def read_enterprise(conn: psycopg.Connection, code: str) -> Enterprise:
    """Raises UnknownEnterpriseError for an unknown code."""
    found = read_enterprises(conn, [code]).get(code)
    if found is None:
        raise UnknownEnterpriseError(code)
    return found


@dataclass(frozen=True)
class Inputs:
    """The inputs of the accounts of some enterprises for some periods, as read in bulk."""

    as_of: datetime
    enterprises: Mapping[str, Enterprise]
    activity: Mapping[str, Sequence[MonthActivity]]  # every month of every period
    measured_ncv: Mapping[str, tuple[MeasuredNcv, ...]]
    green_power: Mapping[str, tuple[GreenPurchase, ...]]
    economics: Mapping[str, tuple[EconomicRow, ...]]
    quality_events: Mapping[tuple[str, Period], Mapping[str, int]]

    def of(self, code: str, period: Period) -> AccountInputs:
        """Raises UnknownEnterpriseError for a code that is not registered."""
        enterprise = self.enterprises.get(code)
        if enterprise is None:
            raise UnknownEnterpriseError(code)
        months = set(period.months())
        return AccountInputs(
            enterprise=enterprise,
            activity=tuple(a for a in self.activity.get(code, ()) if a.month in months),
            measured_ncv=self.measured_ncv.get(code, ()),
            green_power=self.green_power.get(code, ()),
            economics=self.economics.get(code, ()),
            quality_events=self.quality_events.get((code, period), {}),
        )


def read_inputs(
    conn: psycopg.Connection,
    codes: Sequence[str],
    periods: Sequence[Period],
    as_of: datetime,
    *,
    activity: Mapping[str, Sequence[MonthActivity]] | None = None,
) -> Inputs:
    """The inputs of every account of ``codes`` x ``periods`` with data up to ``as_of``.

    ``activity`` (code -> month activity over the periods) may be given for some codes (the live
    service caches past months); the others' is read. The periods must share ``as_of`` as their
    effective end when they are live (the live refresh's three do).
    """
    bounds = {period: period.bounds(as_of) for period in periods}
    lo = min(b[0] for b in bounds.values())
    hi = max(b[1] for b in bounds.values())
    first = min(p.start for p in periods)
    end = max(p.end for p in periods)
    enterprises = read_enterprises(conn, codes)
    known = list(enterprises)
    given = activity or {}
    missing = [code for code in known if code not in given]
    read = read_activities(conn, missing, lo, hi) if missing else {}
    return Inputs(
        as_of=as_of,
        enterprises=enterprises,
        activity={**read, **{code: given[code] for code in known if code in given}},
        measured_ncv=_measured_ncv(conn, known),
        green_power=_green_power(conn, known, first, end),
        economics=_economics(conn, known, date(first.year - 1, 1, 1), end),
        quality_events={
            (code, period): counts
            for period, (p_lo, p_hi) in bounds.items()
            for code, counts in _quality_events(conn, known, p_lo, p_hi).items()
        },
    )


def _measured_ncv(conn: psycopg.Connection, codes: list[str]) -> dict[str, tuple[MeasuredNcv, ...]]:
    rows = conn.execute(
        "SELECT enterprise_code, fuel, valid_from, valid_to, ncv, ncv_unit, source"
        " FROM measured_ncv WHERE enterprise_code = ANY(%s) ORDER BY enterprise_code, valid_from",
        (codes,),
    ).fetchall()
    out: dict[str, list[MeasuredNcv]] = defaultdict(list)
    for code, *row in rows:
        out[code.strip()].append(MeasuredNcv(*row))
    return {code: tuple(values) for code, values in out.items()}


def _green_power(
    conn: psycopg.Connection, codes: list[str], first: date, end: date
) -> dict[str, tuple[GreenPurchase, ...]]:
    rows = conn.execute(
        "SELECT enterprise_code, month, sum(kwh), string_agg(certificate, ', ' ORDER BY"
        " certificate) FROM green_power_purchases WHERE enterprise_code = ANY(%s)"
        " AND month >= %s AND month < %s GROUP BY enterprise_code, month"
        " ORDER BY enterprise_code, month",
        (codes, first, end),
    ).fetchall()
    out: dict[str, list[GreenPurchase]] = defaultdict(list)
    for code, month, kwh, certificates in rows:
        out[code.strip()].append(GreenPurchase(month, kwh, certificates))
    return {code: tuple(values) for code, values in out.items()}


def _economics(
    conn: psycopg.Connection, codes: list[str], first: date, end: date
) -> dict[str, tuple[EconomicRow, ...]]:
    rows = conn.execute(
        "SELECT enterprise_code, period_kind, period_start, value_added, revenue,"
        " output_quantity, output_unit FROM economic_data WHERE enterprise_code = ANY(%s)"
        " AND period_start >= %s AND period_start < %s ORDER BY enterprise_code, period_start",
        (codes, first, end),
    ).fetchall()
    out: dict[str, list[EconomicRow]] = defaultdict(list)
    for code, *row in rows:
        out[code.strip()].append(EconomicRow(*row))
    return {code: tuple(values) for code, values in out.items()}


def _quality_events(
    conn: psycopg.Connection, codes: list[str], lo: datetime, hi: datetime
) -> dict[str, dict[str, int]]:
    rows = conn.execute(
        "SELECT enterprise_code, kind, count(*) FROM quality_events"
        " WHERE enterprise_code = ANY(%s) AND time >= %s AND time < %s"
        " GROUP BY enterprise_code, kind ORDER BY enterprise_code, kind",
        (codes, lo, hi),
    ).fetchall()
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for code, kind, count in rows:
        out[code.strip()][kind] = count
    return dict(out)
