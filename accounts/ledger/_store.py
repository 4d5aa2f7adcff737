"""Materialised accounts (``account_periods``) and grades: live refresh, close, recompute, read.

- Live periods (month to date, rolling 12 months, the current year) are rewritten in place by
  :func:`refresh_live` (``carbonledger accounts run`` calls it every few seconds).
- Closing a month or a year writes a ``closed`` row that nothing rewrites; :func:`recompute`
  writes version n + 1 with the library and policy of now, marks version n ``superseded`` and
  records when and why. Publishing a factor therefore never changes a closed account by itself.
- Other periods (a past month not closed yet) are computed on demand and not stored.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache
from typing import Any

import psycopg
from psycopg import Copy
from psycopg.pq import TransactionStatus

from accounts.ledger._bulk import staged, upsert
from accounts.ledger._compute import (
    Parts,
    Selections,
    compute_account,
    select_all,
    selection_for,
)
from accounts.ledger._grading import (
    GRADE_FIELDS,
    BandSet,
    Ratio,
    Standing,
    band_set,
    grade_models,
    grade_rows,
)
from accounts.ledger._inputs import MonthActivity
from accounts.ledger._known import KnownMonths
from accounts.ledger._model import Account, Exact, GradeRecord, Status, dec
from accounts.ledger._period import Period, add_months
from accounts.ledger._policy import FactorLibrary, Selection
from accounts.ledger._read import Inputs, load_library, read_enterprise, read_inputs
from carbonledger.config import AccountsSettings
from carbonledger.errors import AccountsError
from carbonledger.tz import SHANGHAI

_ACCOUNT_COLUMNS = (
    "enterprise_code", "period_kind", "period_start", "version", "period_end", "status", "as_of",
    "tco2_total", "tco2_scope1", "tco2_scope2", "tco2_own_generation_avoided", "tco2_measured",
    "tce_equivalent", "tce_equal", "value_added", "revenue", "intensity_va", "intensity_revenue",
    "coverage", "estimated_share", "offline_meters", "detail", "computed_at", "reason",
    "industry_code", "value_added_basis", "exact_total", "exact_value_added", "exact_revenue",
)  # fmt: skip
_LIVE_CONFLICT = """ON CONFLICT (enterprise_code, period_kind, period_start, version) DO UPDATE SET
    period_end = excluded.period_end, as_of = excluded.as_of, tco2_total = excluded.tco2_total,
    tco2_scope1 = excluded.tco2_scope1, tco2_scope2 = excluded.tco2_scope2,
    tco2_own_generation_avoided = excluded.tco2_own_generation_avoided,
    tco2_measured = excluded.tco2_measured, tce_equivalent = excluded.tce_equivalent,
    tce_equal = excluded.tce_equal, value_added = excluded.value_added,
    revenue = excluded.revenue, intensity_va = excluded.intensity_va,
    intensity_revenue = excluded.intensity_revenue, coverage = excluded.coverage,
    estimated_share = excluded.estimated_share, offline_meters = excluded.offline_meters,
    detail = excluded.detail, computed_at = excluded.computed_at,
    industry_code = excluded.industry_code, value_added_basis = excluded.value_added_basis,
    exact_total = excluded.exact_total, exact_value_added = excluded.exact_value_added,
    exact_revenue = excluded.exact_revenue
WHERE account_periods.status = 'live'
"""
_GRADE_CONFLICT = """
ON CONFLICT (enterprise_code, period_kind, period_start, model, model_version) DO UPDATE SET
    industry_code = excluded.industry_code, l_value = excluded.l_value,
    industry_l = excluded.industry_l, k_value = excluded.k_value, grade = excluded.grade,
    colour = excluded.colour, level = excluded.level, basis = excluded.basis,
    label = excluded.label, account_version = excluded.account_version, computed_at = now()
WHERE (grades.industry_code, grades.l_value, grades.industry_l, grades.k_value, grades.grade,
       grades.colour, grades.level, grades.basis, grades.label, grades.account_version)
    IS DISTINCT FROM (excluded.industry_code, excluded.l_value, excluded.industry_l,
       excluded.k_value, excluded.grade, excluded.colour, excluded.level, excluded.basis,
       excluded.label, excluded.account_version)
"""
_SUPERSEDE = """
UPDATE account_periods SET status = 'superseded', superseded_at = %s
WHERE enterprise_code = %s AND period_kind = %s AND period_start = %s AND version = %s
"""
_SELECTION_COLUMNS = (
    "enterprise_code", "month", "carrier", "factor_id", "tco2_num", "tco2_den", "tce_equivalent",
    "tce_equal", "tce_factor_ids",
)  # fmt: skip
_SELECTION_CONFLICT = """
ON CONFLICT (enterprise_code, month, carrier) DO UPDATE SET
    factor_id = excluded.factor_id, tco2_num = excluded.tco2_num, tco2_den = excluded.tco2_den,
    tce_equivalent = excluded.tce_equivalent, tce_equal = excluded.tce_equal,
    tce_factor_ids = excluded.tce_factor_ids, selected_at = now()
WHERE (factor_selection.factor_id, factor_selection.tco2_num, factor_selection.tco2_den,
       factor_selection.tce_equivalent, factor_selection.tce_equal,
       factor_selection.tce_factor_ids)
    IS DISTINCT FROM (excluded.factor_id, excluded.tco2_num, excluded.tco2_den,
       excluded.tce_equivalent, excluded.tce_equal, excluded.tce_factor_ids)
"""  # a row is rewritten (selected_at: now) only when the selection changed


_NO_GRADES = {"grades"}
_ENCODE = Account.__pydantic_serializer__


def _values(account: Account, *, raw: bool = False) -> tuple[object, ...]:
    """The row of ``account``; ``raw``: the detail as UTF-8 JSON bytes (a binary COPY)."""
    t, p, e, q = account.totals, account.period, account.economics, account.quality
    detail = _ENCODE.to_json(account, exclude=_NO_GRADES)  # jsonb parses it: the stored value
    return (
        account.enterprise.code,
        p.kind,
        p.start,
        account.version,
        p.end,
        account.status,
        p.as_of,
        t.total,
        t.scope1,
        t.scope2,
        t.own_generation_avoided,
        t.measured,
        t.tce_equivalent,
        t.tce_equal,
        e.value_added.value,
        e.revenue.value,
        account.intensity.per_value_added,
        account.intensity.per_revenue,
        q.coverage,
        q.estimated_share,
        len(q.offline_meters),
        detail if raw else detail.decode(),
        account.computed_at,
        account.reason,
        account.enterprise.industry_code,
        e.value_added.basis,
        *_graded_figures(account),
    )


def _graded_figures(account: Account) -> tuple[str, str | None, str | None]:
    """The total, value added and revenue that grading divides, as exact text ("a/b"): the
    recorded exact values, or the figures of an account stored before they were recorded."""
    exact = account.exact
    if exact:
        return exact.total, exact.value_added, exact.revenue
    e = account.economics
    return str(account.totals.total), Exact.of(e.value_added.value), Exact.of(e.revenue.value)


def _selection_rows(
    code: str, activity: Sequence[MonthActivity], selections: Selections, library: FactorLibrary
) -> list[tuple[object, ...]]:
    """factor_selection rows (what emissions_15m joins) for the carriers and months seen."""
    rows = {}
    stored = library.stored
    for a in activity:
        if a.carrier == "flue_gas":
            continue
        sel = selection_for(selections, a)
        found = stored.get(id(sel))
        if found is None or found[0] is not sel:
            found = stored[id(sel)] = (sel, _selection_columns(sel))
        rows[(a.month, a.carrier)] = (code, a.month, a.carrier, *found[1])
    return list(rows.values())


def _selection_columns(sel: Selection) -> tuple[object, ...]:
    per = sel.tco2_per_unit
    return (
        sel.factor_id,
        per.numerator if per is not None else None,
        per.denominator if per is not None else None,
        _exact(sel.tce_equivalent),
        _exact(sel.tce_equal),
        sel.tce_factor_ids,
    )


def _executemany(conn: psycopg.Connection, statement: str, rows: list[tuple[object, ...]]) -> None:
    """All rows in one pipelined executemany (a round trip per row costs more than the row)."""
    if rows:
        with conn.cursor() as cur:
            cur.executemany(statement, rows)


def _exact(value: Fraction | None) -> Decimal | None:
    """tce coefficients are decimal fractions (kgce / 1000, NCV / 29.307): exact as Decimal."""
    return None if value is None else dec(value)


# --- reading ------------------------------------------------------------------------------------


def _stored(conn: psycopg.Connection, code: str, kind: str, start: date) -> Account | None:
    return _stored_many(conn, [code], kind, start).get(code)


def _stored_many(
    conn: psycopg.Connection, codes: Sequence[str], kind: str, start: date
) -> dict[str, Account]:
    """The current stored accounts of ``codes`` for the period, in one query."""
    rows = conn.execute(
        "SELECT enterprise_code, detail FROM account_periods WHERE enterprise_code = ANY(%s)"
        " AND period_kind = %s AND period_start = %s AND status <> 'superseded'",
        (list(codes), kind, start),
    ).fetchall()
    return {code.strip(): Account.model_validate(detail) for code, detail in rows}


def get_account(
    conn: psycopg.Connection,
    code: str,
    period: Period,
    *,
    settings: AccountsSettings | None = None,
    now: datetime | None = None,
) -> Account:
    """The account of record for the period: the stored closed or live row, else computed now.

    Raises UnknownEnterpriseError for an unknown code. Grades are attached from ``grades``
    (computed on demand, with the industry's peers, when the period is not stored).
    """
    settings = settings or AccountsSettings()
    read_enterprise(conn, code)
    stored = _stored(conn, code, period.kind, period.start)
    if stored is not None:
        stored.grades = read_grades(conn, code, period.kind, period.start)
        return stored
    now = now or datetime.now(SHANGHAI)
    library = load_library(conn, settings)
    inputs = read_inputs(conn, [code], [period], now)
    status: Status = "live" if period.live else "provisional"
    account = compute_account(inputs.of(code, period), period, library, as_of=now, status=status)
    account.grades = _grades_on_demand(conn, account, period, library, now)
    return account


def _grades_on_demand(
    conn: psycopg.Connection,
    account: Account,
    period: Period,
    library: FactorLibrary,
    now: datetime,
) -> list[GradeRecord]:
    peers = [
        r[0].strip()
        for r in conn.execute(
            "SELECT code FROM enterprises WHERE industry_code = %s AND code <> %s",
            (account.enterprise.industry_code, account.enterprise.code),
        )
    ]
    stored = _stored_many(conn, peers, period.kind, period.start)
    inputs = read_inputs(conn, [p for p in peers if p not in stored], [period], now)
    accounts = [account] + [
        stored.get(p) or compute_account(inputs.of(p, period), period, library, as_of=now)
        for p in peers
    ]
    records = _grade_accounts(conn, accounts, period, library.settings)
    return [r for r in records if r.enterprise_code == account.enterprise.code]


def read_grades(conn: psycopg.Connection, code: str, kind: str, start: date) -> list[GradeRecord]:
    return _grade_rows(
        conn,
        "WHERE enterprise_code = %s AND period_kind = %s AND period_start = %s ORDER BY model",
        (code, kind, start),
    )


def grade_history(conn: psycopg.Connection, code: str) -> list[GradeRecord]:
    """Every grade of the enterprise, oldest period first (all kinds and models)."""
    read_enterprise(conn, code)
    return _grade_rows(
        conn,
        "WHERE enterprise_code = %s ORDER BY period_start, period_kind, model",
        (code,),
    )


_GRADE_COLUMNS = (
    "enterprise_code",
    "period_kind",
    "period_start",
    "model",
    "model_version",
    "industry_code",
    "l_value",
    "industry_l",
    "k_value",
    "grade",
    "colour",
    "level",
    "basis",
    "label",
    "account_version",
    "computed_at",
)


def _grade_rows(
    conn: psycopg.Connection, where: str, params: tuple[object, ...]
) -> list[GradeRecord]:
    rows = conn.execute(f"SELECT {', '.join(_GRADE_COLUMNS)} FROM grades {where}", params)
    out = []
    for row in rows:
        values = dict(zip(_GRADE_COLUMNS, row, strict=True))
        values["enterprise_code"] = str(values["enterprise_code"]).strip()
        out.append(GradeRecord.model_validate(values))
    return out


# --- grading ------------------------------------------------------------------------------------


def _standing(account: Account, previous_l: Decimal | None = None) -> Standing:
    tco2, value_added, revenue = _graded_figures(account)
    return _standing_of(
        code=account.enterprise.code,
        industry_code=account.enterprise.industry_code,
        version=account.version,
        va_basis=account.economics.value_added.basis,
        coverage=account.quality.coverage,
        offline=len(account.quality.offline_meters),
        tco2=Exact.fraction(tco2),
        value_added=Exact.value(value_added),
        revenue=Exact.value(revenue),
        previous_l=previous_l,
    )


def _standing_of(
    *,
    code: str,
    industry_code: str,
    version: int,
    va_basis: str,
    coverage: Decimal,
    offline: int,
    tco2: Fraction | Ratio,
    value_added: Fraction | Ratio | None,
    revenue: Fraction | Ratio | None,
    previous_l: Decimal | None,
) -> Standing:
    return Standing(
        code=code,
        industry_code=industry_code,
        tco2=tco2,
        value_added=value_added,
        revenue=revenue,
        version=version,
        notes=_notes(va_basis, coverage, offline),
        previous_l=previous_l,
    )


_FULL_COVERAGE = Decimal("0.99")


@lru_cache(maxsize=4096)
def _notes(va_basis: str, coverage: Decimal, offline: int) -> tuple[str, ...]:
    """The data-quality and estimate flags of a grade's label (few distinct ones: cached)."""
    notes = []
    if va_basis.startswith("estimated"):
        notes.append(f"value added {va_basis}")
    if coverage < _FULL_COVERAGE:
        notes.append(f"data coverage {float(coverage):.0%}")
    if offline:
        notes.append(f"{offline} meter(s) offline")
    return tuple(notes)


# what grading reads of a stored account: narrow columns (migration 0017), not the detail, which
# the view reads only for rows written without them
_STANDINGS = """
SELECT enterprise_code, version, industry_code, value_added_basis, coverage, offline_meters,
       tco2, value_added, revenue
FROM account_standings
WHERE period_kind = %s AND period_start = %s AND status <> 'superseded'
"""


def _stored_standings(conn: psycopg.Connection, period: Period) -> list[Standing]:
    """Every stored account of the period as grading sees it, without reading the details
    (graded as ``_standing(Account.model_validate(detail))`` is: the exact figures as integer
    pairs, not Fractions; tests/accounts/ledger/test_live_and_grades.py compares the two)."""
    rows = conn.execute(_STANDINGS, (period.kind, period.start)).fetchall()
    codes = [str(r[0]).strip() for r in rows]
    previous = _previous_l(conn, period, codes)
    ratio = Exact.ratio
    return [
        Standing(
            code,
            industry,
            ratio(tco2),  # type: ignore[arg-type]  # never NULL
            ratio(va),
            ratio(rev),
            version,
            _notes(basis, coverage, offline),
            previous.get(code),
        )
        for code, (_, version, industry, basis, coverage, offline, tco2, va, rev) in zip(
            codes, rows, strict=True
        )
    ]


def _grade_accounts(
    conn: psycopg.Connection,
    accounts: Sequence[Account],
    period: Period,
    settings: AccountsSettings,
) -> list[GradeRecord]:
    previous = _previous_l(conn, period, [a.enterprise.code for a in accounts])
    standings = [_standing(a, previous.get(a.enterprise.code)) for a in accounts]
    return _grade_standings(standings, period, settings)


def _grade_standings(
    standings: Sequence[Standing], period: Period, settings: AccountsSettings
) -> list[GradeRecord]:
    out = grade_models(
        standings,
        period_kind=period.kind,
        period_start=period.start,
        live=period.live,
        models=_models(settings),
    )
    first = "huzhou" if settings.grading_model == "huzhou" else "quzhou-colour"
    out.sort(key=lambda r: (r.enterprise_code, r.model != first))
    return out


def _models(settings: AccountsSettings) -> list[BandSet]:
    return [band_set(settings.band_version), band_set(settings.colour_version)]


def _previous_l(
    conn: psycopg.Connection, period: Period, codes: Sequence[str]
) -> dict[str, Decimal]:
    """L of the same kind of period a year earlier (for the colour model's historical test)."""
    kind = "month" if period.kind == "mtd" else period.kind
    rows = conn.execute(
        "SELECT enterprise_code, tco2_total / value_added FROM account_periods"
        " WHERE period_kind = %s AND period_start = %s AND status <> 'superseded'"
        " AND value_added > 0 AND enterprise_code = ANY(%s)",
        (kind, add_months(period.start, -12), list(codes)),
    ).fetchall()
    return {str(code).strip(): value for code, value in rows}


# a period's stored grades as _regrade compares them: the key, then GRADE_FIELDS[5:]
_STORED_GRADES = """
SELECT enterprise_code, model, model_version, industry_code, l_value, industry_l, k_value, grade,
       colour, level, basis, label, account_version
FROM grades WHERE period_kind = %s AND period_start = %s
"""


def _regrade(conn: psycopg.Connection, period: Period, settings: AccountsSettings) -> int:
    """Grade every stored account of the period (industry L over all of them) and return how
    many grades that is. Only the grade rows whose values changed are written: the period's
    stored grades are read and compared here (numbers by value, as ``IS DISTINCT FROM``
    does), so an unchanged row is neither sent nor locked (``INSERT … ON CONFLICT … WHERE``
    locks every conflicting row, unchanged or not: a dirtied page and WAL for each of
    300,000). ``computed_at`` stays when a grade's values last changed; the upsert keeps its
    own test for the rows sent (a concurrent writer)."""
    rows = grade_rows(
        _stored_standings(conn, period),
        period_kind=period.kind,
        period_start=period.start,
        live=period.live,
        models=_models(settings),
    )
    stored = {
        (padded.strip(), model, version): tuple(values)
        for padded, model, version, *values in conn.execute(
            _STORED_GRADES, (period.kind, period.start)
        ).fetchall()
    }
    changed = [r for r in rows if stored.get((r[0], r[3], r[4])) != r[5:]]
    upsert(conn, "grades", GRADE_FIELDS, changed, _GRADE_CONFLICT, now=("computed_at",))
    return len(rows)


# --- live refresh, close, recompute -------------------------------------------------------------


@dataclass(frozen=True)
class RefreshResult:
    enterprises: int
    accounts: int
    grades: int
    seconds: float
    failed: dict[str, str] = field(default_factory=dict)  # code -> why (no factor, ...)


def live_periods(now: datetime) -> list[Period]:
    return [Period.mtd(now), Period.parse("rolling12", now), Period.parse(f"{now:%Y}", now)]


def regrade_live(conn: psycopg.Connection, settings: AccountsSettings, now: datetime) -> int:
    """Grade every stored account of the live periods (what :func:`refresh_live` does last), in
    one transaction (a savepoint of the caller's): the upserts stage their rows in a table
    emptied at commit, which an autocommit connection would empty before the INSERT read it."""
    with conn.transaction():
        return sum(_regrade(conn, p, settings) for p in live_periods(now))


def all_codes(conn: psycopg.Connection) -> list[str]:
    return [r[0].strip() for r in conn.execute("SELECT code FROM enterprises ORDER BY code")]


def refresh_live(
    conn: psycopg.Connection,
    settings: AccountsSettings | None = None,
    codes: Sequence[str] | None = None,
    *,
    now: datetime | None = None,
    activity: dict[str, list[MonthActivity]] | None = None,
    regrade: bool = True,
    known: KnownMonths | None = None,
) -> RefreshResult:
    """Recompute the live accounts (month to date, rolling 12 months, current year) of ``codes``
    (default: every enterprise), then the grades of those periods.

    The inputs are read in one transaction (:func:`read_live`), the accounts written in chunks
    of ``settings.write_chunk`` enterprises, each in a transaction of its own
    (:func:`write_live`), then the grades in one more. Inside a transaction of the caller's, all
    of it is that transaction.

    ``activity`` (code -> month activity since the earliest live period's start) lets the
    service pass what it has cached; otherwise it is read from the rollups. ``regrade`` False
    leaves the grades to the caller (a partitioned service regrades once all partitions are in).
    ``known``: the service's kept past months, kept with its ``activity``.
    """
    began = time.monotonic()
    settings = settings or AccountsSettings()
    with conn.transaction():
        live = read_live(conn, settings, codes, now=now, activity=activity)
    result = write_live(conn, live, known=known)
    graded = regrade_live(conn, settings, live.now) if live.codes and regrade else 0
    return RefreshResult(
        result.enterprises, result.accounts, graded, time.monotonic() - began, result.failed
    )


@dataclass(frozen=True)
class LiveInputs:
    """What a refresh of live accounts computes from, read in one snapshot (:func:`read_live`)."""

    settings: AccountsSettings
    codes: list[str]
    now: datetime
    periods: list[Period]
    library: FactorLibrary
    inputs: Inputs


def read_live(
    conn: psycopg.Connection,
    settings: AccountsSettings,
    codes: Sequence[str] | None = None,
    *,
    now: datetime | None = None,
    activity: dict[str, list[MonthActivity]] | None = None,
) -> LiveInputs:
    """The inputs of ``codes``' live accounts (default: every enterprise), read on ``conn``
    (reads only: a transaction that runs nothing else holds no transaction id)."""
    now = (now or datetime.now(SHANGHAI)).astimezone(SHANGHAI)
    periods = live_periods(now)
    library = load_library(conn, settings)
    codes = all_codes(conn) if codes is None else list(codes)
    inputs = read_inputs(conn, codes, periods, now, activity=activity)
    return LiveInputs(settings, codes, now, periods, library, inputs)


def write_live(
    conn: psycopg.Connection, live: LiveInputs, *, known: KnownMonths | None = None
) -> RefreshResult:
    """Compute and write the live accounts of ``live`` (no grades), ``live.settings.write_chunk``
    enterprises at a time, each chunk (its accounts and factor selections) in a transaction of
    its own: no transaction of a refresh holds a transaction id (which the aggregator's
    watermark cannot pass, docs/scale.md) for longer than a chunk takes.

    Every enterprise's accounts depend on its own inputs only, so the rows written are the same
    whatever the chunk size. A failure leaves the chunks before it committed (accounts as of
    ``live.now``, from the same snapshot: only newer than those stored before) and raises; the
    caller refreshes those enterprises again (the service keeps its watermark, docs/accounts.md).

    ``known``: the past months' factor selections a chunk writes are stored once that chunk
    commits (:meth:`KnownMonths.confirm` after each chunk that committed, not after a savepoint
    of the caller's transaction, which confirms when the caller's transaction commits).
    """
    began = time.monotonic()
    written = 0
    failed: dict[str, str] = {}
    chunk = max(1, live.settings.write_chunk)
    if known is not None:
        known.begin()
    for at in range(0, len(live.codes), chunk):
        chosen: list[tuple[object, ...]] = []
        with conn.transaction():
            # the accounts stream to the server as they are computed (see _bulk.staged)
            with staged(
                conn, "account_periods", _ACCOUNT_COLUMNS, _LIVE_CONFLICT, binary=True
            ) as stage:
                for code in live.codes[at : at + chunk]:
                    written += _refresh_one(
                        stage, code, inputs=live.inputs, periods=live.periods,
                        library=live.library, now=live.now, known=known, chosen=chosen,
                        failed=failed,
                    )  # fmt: skip
            upsert(
                conn, "factor_selection", _SELECTION_COLUMNS, chosen, _SELECTION_CONFLICT,
                now=("selected_at",),
            )  # fmt: skip
        if known is not None and conn.info.transaction_status == TransactionStatus.IDLE:
            known.confirm()  # this chunk committed
    return RefreshResult(len(live.codes), written, 0, time.monotonic() - began, failed)


def _refresh_one(
    stage: Copy,
    code: str,
    *,
    inputs: Inputs,
    periods: Sequence[Period],
    library: FactorLibrary,
    now: datetime,
    known: KnownMonths | None,
    chosen: list[tuple[object, ...]],
    failed: dict[str, str],
) -> int:
    """One enterprise's live accounts, written to ``stage``; its factor selections added to
    ``chosen``, or why it has none to ``failed``. How many accounts were written."""
    per_period = [inputs.of(code, period) for period in periods]
    months = inputs.activity[code]
    kept = None if known is None else known.of(code)
    try:
        selections = select_all(
            library, per_period[0].enterprise, per_period[0].measured_ncv, months, now.date(),
            kept=None if kept is None else kept.selections,
        )  # fmt: skip
        parts: Parts = {}
        accounts = [
            compute_account(
                one,
                period,
                library,
                as_of=now,
                selections=selections,
                parts=parts,
                known=kept,
            )
            for one, period in zip(per_period, periods, strict=True)
        ]
    except AccountsError as exc:  # one enterprise's problem stops no other
        failed[code] = str(exc)
        return 0
    for account in accounts:
        stage.write_row(_values(account, raw=True))
    if kept is not None and kept.selections_stored:  # the past months' rows are stored
        ids = kept.ids
        months = [a for a in months if id(a) not in ids]
    elif kept is not None and known is not None:
        known.written(kept)
    chosen += _selection_rows(code, months, selections, library)
    return len(accounts)


def close(
    conn: psycopg.Connection,
    period: Period,
    settings: AccountsSettings | None = None,
    codes: Sequence[str] | None = None,
    *,
    now: datetime | None = None,
) -> list[Account]:
    """Freeze the month or year for ``codes`` (default all); already closed ones stay as they are.

    Raises AccountsError when the period is not over.
    """
    settings = settings or AccountsSettings()
    if not period.closed:
        raise AccountsError(f"{period.label} is not over yet: only a past month or year closes")
    now = now or datetime.now(SHANGHAI)
    closed = []
    with conn.transaction():
        library = load_library(conn, settings)
        candidates = all_codes(conn) if codes is None else list(codes)
        stored = _stored_many(conn, candidates, period.kind, period.start)
        wanted = [code for code in candidates if code not in stored]
        inputs = read_inputs(conn, wanted, [period], now)
        for code in wanted:
            account = compute_account(
                inputs.of(code, period), period, library, as_of=now, status="closed",
                reason="closed",
            )  # fmt: skip
            closed.append(account)
        upsert(conn, "account_periods", _ACCOUNT_COLUMNS, [_values(a) for a in closed])
        _regrade(conn, period, settings)
    return closed


@dataclass(frozen=True)
class Recomputed:
    code: str
    old_version: int
    new_version: int | None  # None: the new computation equals the closed one
    old_total: Decimal
    new_total: Decimal


def recompute(
    conn: psycopg.Connection,
    period: Period,
    reason: str,
    settings: AccountsSettings | None = None,
    codes: Sequence[str] | None = None,
    *,
    now: datetime | None = None,
) -> list[Recomputed]:
    """Recompute closed accounts with today's library and policy.

    A changed account becomes version n + 1 (closed, with ``reason``) and version n is marked
    ``superseded`` with the time; an unchanged one stays as it is (``new_version`` None).
    """
    settings = settings or AccountsSettings()
    if not reason.strip():
        raise AccountsError("a recompute needs a reason")
    now = now or datetime.now(SHANGHAI)
    out = []
    with conn.transaction():
        library = load_library(conn, settings)
        rows = conn.execute(
            "SELECT enterprise_code, version FROM account_periods WHERE period_kind = %s"
            " AND period_start = %s AND status = 'closed' ORDER BY enterprise_code",
            (period.kind, period.start),
        ).fetchall()
        wanted = None if codes is None else set(codes)
        if not rows:
            raise AccountsError(f"{period.label} has no closed accounts to recompute")
        chosen = [
            (code, version)
            for code, version in ((padded.strip(), version) for padded, version in rows)
            if wanted is None or code in wanted
        ]
        inputs = read_inputs(conn, [code for code, _ in chosen], [period], now)
        stored = _stored_many(conn, [code for code, _ in chosen], period.kind, period.start)
        superseded: list[tuple[object, ...]] = []
        versions: list[tuple[object, ...]] = []
        for code, version in chosen:
            old = stored[code]
            new = compute_account(
                inputs.of(code, period),
                period,
                library,
                as_of=now,
                status="closed",
                version=version + 1,
                reason=reason,
            )
            if _same(old, new):
                out.append(Recomputed(code, version, None, old.totals.total, new.totals.total))
                continue
            superseded.append((now, code, period.kind, period.start, version))
            versions.append(_values(new))
            out.append(Recomputed(code, version, version + 1, old.totals.total, new.totals.total))
        _executemany(conn, _SUPERSEDE, superseded)
        upsert(conn, "account_periods", _ACCOUNT_COLUMNS, versions)
        _regrade(conn, period, settings)
    return out


def _same(old: Account, new: Account) -> bool:
    """The same figures; a month part's own rollups and the field its avoided tCO2 sits in were
    added later, so an account stored before them equals its recomputation."""
    keep = {"lines", "totals", "economics", "intensity", "factor_ids"}
    return _figures(old.model_dump(include=keep)) == _figures(new.model_dump(include=keep))


def _figures(dump: dict[str, Any]) -> dict[str, Any]:
    for line in dump["lines"]:
        for part in line["months"]:
            part.pop("buckets", None)
            part.pop("covered_ms", None)
            avoided = part.pop("tco2_avoided", None)
            part["tco2"] = part["tco2"] if avoided is None else avoided
    return dump
