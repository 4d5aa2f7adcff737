"""An enterprise's account for a period, computed from its inputs (exact arithmetic, no database).

Activity is ``booked_rollups`` summed per meter, quantity and local month (integers in fixed
point, read by :mod:`accounts.ledger._read`); each month's activity is multiplied by the factors
the policy selects for that month (:mod:`accounts.ledger._policy`), as exact rationals; totals
are sums of those, converted to Decimal once (:func:`accounts.ledger._model.dec`). Results
therefore do not depend on order or batching. Nothing here imports psycopg: the hand-computed
reference accounts run on plain objects.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache
from math import lcm
from typing import TYPE_CHECKING

from accounts.ledger._inputs import AccountInputs, EconomicRow, Enterprise, MonthActivity
from accounts.ledger._model import (
    Account,
    CarrierTotal,
    CrossCheck,
    Economics,
    Exact,
    Figure,
    Intensity,
    Line,
    MonthPart,
    PeriodInfo,
    Quality,
    Status,
    Totals,
    dec,
    dec_ratio,
)
from accounts.ledger._period import Period, add_months, local_midnight, local_today
from accounts.ledger._policy import (
    FUELS,
    FactorLibrary,
    FactorRef,
    MeasuredNcv,
    Selection,
    guideline_for,
    select,
)

if TYPE_CHECKING:
    from accounts.ledger._known import Known

BUCKET = timedelta(minutes=15)
Selections = dict[tuple[str, date, str], Selection]  # see select_all


LineKey = tuple[str, str, str]  # meter, quantity, role
# an exact value as (numerator, denominator > 0), not reduced: sums over a common denominator
# cost integer operations; dec_ratio rounds it as dec() rounds the Fraction
Exactly = tuple[int, int]
_NOTHING: Exactly = (0, 1)


@dataclass
class LineSum:
    """Exact running sums for one line across months.

    Activity is summed in fixed-point integers (one scale per line: its quantity's) and each
    factor's share as the integer activity booked at it, so the months cost integer additions;
    :meth:`finish` turns them into exact ratios over a common denominator (the same values as
    adding month by month).
    """

    first: MonthActivity
    activity: Exactly = _NOTHING
    tco2: Exactly = _NOTHING
    tce_equivalent: Exactly = _NOTHING
    tce_equal: Exactly = _NOTHING
    covered_ms: int = 0
    estimated_ms: int = 0
    buckets: int = 0
    last_bucket: datetime | None = None
    factors: dict[str, FactorRef] = field(default_factory=dict)
    tce_factors: dict[str, FactorRef] = field(default_factory=dict)
    formulas: list[str] = field(default_factory=list)
    tce_formulas: list[str] = field(default_factory=list)
    months: list[MonthPart] = field(default_factory=list)
    has_factor: bool = True
    fp: int = 0
    # factor (numerator, denominator: ints hash faster than a Fraction) -> signed fixed point
    at_tco2: dict[tuple[int, int], int] = field(default_factory=dict)
    at_tce_equivalent: dict[tuple[int, int], int] = field(default_factory=dict)
    at_tce_equal: dict[tuple[int, int], int] = field(default_factory=dict)

    def add(self, a: MonthActivity, sel: Selection, part: MonthPart) -> None:
        """One month of the line (months in order: the lists keep the first seen first)."""
        self.fp += a.activity_fp
        self.covered_ms += a.covered_ms
        self.estimated_ms += a.estimated_ms
        self.buckets += a.buckets
        if self.last_bucket is None or a.last_bucket > self.last_bucket:
            self.last_bucket = a.last_bucket
        signed = a.sign * a.activity_fp
        if a.role != "measured" and (factor := sel.tco2_per_unit) is not None:
            at, key = self.at_tco2, (factor.numerator, factor.denominator)
            at[key] = at.get(key, 0) + signed
            for f in sel.factors:
                self.factors[f.ref] = f
            if sel.formula not in self.formulas:
                self.formulas.append(sel.formula)
        elif a.role != "measured":
            self.has_factor = False
        if a.scope is not None and sel.tce_equivalent is not None and sel.tce_equal is not None:
            eq, el = self.at_tce_equivalent, self.at_tce_equal
            key = (sel.tce_equivalent.numerator, sel.tce_equivalent.denominator)
            eq[key] = eq.get(key, 0) + signed
            key = (sel.tce_equal.numerator, sel.tce_equal.denominator)
            el[key] = el.get(key, 0) + signed
            for f in sel.tce_factors:
                self.tce_factors[f.ref] = f
            if sel.tce_formula not in self.tce_formulas:
                self.tce_formulas.append(sel.tce_formula)
        self.months.append(part)

    def copy(self) -> LineSum:
        """A copy to add more months to (the kept sums of past months stay as they are); not
        :func:`dataclasses.replace` or :func:`copy.copy`, which cost twice as much (a live cycle
        copies every line)."""
        out = LineSum.__new__(LineSum)
        out.__dict__.update(self.__dict__)
        out.factors, out.tce_factors = dict(self.factors), dict(self.tce_factors)
        out.formulas, out.tce_formulas = list(self.formulas), list(self.tce_formulas)
        out.months = list(self.months)
        out.at_tco2 = dict(self.at_tco2)
        out.at_tce_equivalent, out.at_tce_equal = (
            dict(self.at_tce_equivalent), dict(self.at_tce_equal),
        )  # fmt: skip
        return out

    def finish(self) -> None:
        scale = 10**self.first.scale
        self.activity = (self.fp, scale)
        self.tco2 = _booked(self.at_tco2, scale)
        self.tce_equivalent = _booked(self.at_tce_equivalent, scale)
        self.tce_equal = _booked(self.at_tce_equal, scale)


def _booked(at: dict[tuple[int, int], int], scale: int) -> Exactly:
    """sum(fixed point x factor) / scale, exactly, over the factors' common denominator."""
    if not at:
        return _NOTHING
    common = 1
    for _, denominator in at:
        if common % denominator:
            common = lcm(common, denominator)
    total = 0
    for (numerator, denominator), fp in at.items():
        total += fp * numerator * (common // denominator)
    return total, common * scale


def _plus(x: Exactly, y: Exactly) -> Exactly:
    if not y[0]:
        return x
    if not x[0]:
        return y
    if x[1] == y[1]:
        return x[0] + y[0], x[1]
    common = lcm(x[1], y[1])
    return x[0] * (common // x[1]) + y[0] * (common // y[1]), common


def _total(values: Iterable[Exactly]) -> Exactly:
    out = _NOTHING
    for value in values:
        out = _plus(out, value)
    return out


def _exact(value: Fraction) -> Exactly:
    return value.numerator, value.denominator


@lru_cache(maxsize=1 << 16)
def _d(value: Exactly) -> Decimal:
    """Rounded once per value: an account shows many exact values more than once (a carrier of
    one meter is its line, a total of one kind its part), and the same values come back in the
    next cycle's year and rolling 12 months."""
    return dec_ratio(*value)


def _negated(value: Exactly) -> Exactly:
    return -value[0], value[1]


# one month of one line as every period of an enterprise's refresh shows it (see _month_part)
# (keeps the activity alive while its id is the key)
Parts = dict[int, tuple[MonthActivity, MonthPart]]


def compute_account(
    inputs: AccountInputs,
    period: Period,
    library: FactorLibrary,
    *,
    as_of: datetime,
    status: Status = "live",
    version: int = 1,
    reason: str | None = None,
    selections: Selections | None = None,
    offline_after_s: int = 900,
    parts: Parts | None = None,
    known: Known | None = None,
) -> Account:
    """The account of ``inputs``' enterprise for ``period`` with data up to ``as_of``.

    ``selections`` may be given (the live refresh selects once for its three periods), and
    ``parts``: a dict kept across the periods of one enterprise and one ``selections`` (a month's
    part of a line is computed once for them); ``known``: the enterprise's kept past months
    (:mod:`accounts.ledger._known`), kept with ``selections`` of the same value.
    """
    enterprise, activity = inputs.enterprise, inputs.activity
    lo, hi = period.bounds(as_of)
    if selections is None:
        selections = select_all(
            library, enterprise, inputs.measured_ncv, activity, local_today(as_of)
        )
    sums = _sums(activity, period, selections, parts, known)
    period_ms = int((hi - lo).total_seconds() * 1000)
    lines = [_line(s, period_ms) for s in sums.values()]
    green = _green_power(inputs, library, activity, selections)
    if green is not None:
        lines.append(green[0])
    lines.sort(key=lambda line: (line.scope or 9, line.carrier, line.meter_id, line.quantity))
    totals, total, tce = _totals(sums.values(), green[1] if green else Fraction(0))
    kept = None if known is None else known.economics
    economics, figures = economics_of(inputs.economics, period, lo, hi, kept)
    intensity = _intensity(total, tce, figures, economics.output_unit)
    quality = _quality(
        enterprise,
        inputs.quality_events,
        sums.values(),
        hi=hi,
        period_ms=period_ms,
        offline_after_s=offline_after_s,
    )
    factor_ids = sorted({f.ref for line in lines for f in [*line.factors, *line.tce_factors]})
    two_high = None
    if period.kind in ("year", "rolling12"):
        s = library.settings
        two_high = enterprise.info.industry_code[:2] in s.two_high_divisions and tce > Fraction(
            s.two_high_tce
        )
    return Account(
        enterprise=enterprise.info,
        period=PeriodInfo(
            kind=period.kind,
            start=period.start,
            end=period.end,
            label=_named(period)[0],
            text=_named(period)[1],
            as_of=hi,
            live=period.live,
        ),
        status=status,
        version=version,
        computed_at=as_of,
        reason=reason,
        lines=lines,
        by_carrier=_by_carrier(sums.values()),
        totals=totals,
        economics=economics,
        intensity=intensity,
        quality=quality,
        cross_check=_cross_check(lines, totals),
        two_high=two_high,
        factor_ids=factor_ids,
        exact=Exact(
            total=str(total),
            tce_equivalent=str(tce),
            value_added=Exact.of(figures["value_added"]),
            revenue=Exact.of(figures["revenue"]),
            output_quantity=Exact.of(figures["output_quantity"]),
        ),
    )


@lru_cache(maxsize=64)
def _named(period: Period) -> tuple[str, str]:
    """The period's label and text: formatted once for every enterprise of a cycle."""
    return period.label, period.text


def select_all(
    library: FactorLibrary,
    enterprise: Enterprise,
    measured: Sequence[MeasuredNcv],
    activity: Iterable[MonthActivity],
    as_of: date,
    *,
    kept: Selections | None = None,
) -> Selections:
    """(carrier, month, meter) -> factors; the meter matters for steam (its enthalpy) only.

    ``kept``: selections made for the enterprise on the same day with a library of the same
    content (the live service's kept months), taken as they are; what is selected is added.
    """
    out: Selections = {}
    guideline = guideline_for(enterprise.info.industry_code, library.settings)
    for a in activity:
        key = (a.carrier, a.month, a.meter_id if a.carrier == "steam" else "")
        if key in out:
            continue
        if kept is not None and (chosen := kept.get(key)) is not None:
            out[key] = chosen
            continue
        # what select() depends on: enterprises of one guideline share the fuels' factors
        fuel = a.carrier in FUELS
        shared = (
            *key,
            as_of,
            guideline if fuel else "",
            tuple(m for m in measured if m.fuel == a.carrier) if fuel else (),
        )
        found = library.selected.get(shared)
        if found is None:
            found = library.selected[shared] = select(
                library,
                carrier=a.carrier,
                month=a.month,
                as_of=as_of,
                industry_code=enterprise.info.industry_code,
                measured=measured,
                meter_id=a.meter_id,
            )
        out[key] = found
        if kept is not None:
            kept[key] = found
    return out


def selection_for(selections: Selections, a: MonthActivity) -> Selection:
    return selections[(a.carrier, a.month, a.meter_id if a.carrier == "steam" else "")]


def _sums(
    activity: Sequence[MonthActivity],
    period: Period,
    selections: Selections,
    parts: Parts | None,
    known: Known | None,
) -> dict[LineKey, LineSum]:
    """The lines' sums: ``known``'s kept sums of the past months (computed on first use) and the
    other rows added to them."""
    if known is None:
        return _lines(activity, selections, parts)
    ids = known.ids
    fresh = [a for a in activity if id(a) not in ids]
    kept = known.lines.get(period)
    if kept is None:
        past = [a for a in activity if id(a) in ids]
        kept = known.lines[period] = (len(past), _lines(past, selections, known.parts))
    if len(activity) - len(fresh) != kept[0]:  # not the rows the sums were kept for
        return _lines(activity, selections, parts)
    return _lines(fresh, selections, parts, past=kept[1])


def _lines(
    activity: Sequence[MonthActivity],
    selections: Selections,
    parts: Parts | None = None,
    past: Mapping[LineKey, LineSum] | None = None,
) -> dict[LineKey, LineSum]:
    """The lines' sums; ``parts`` keeps each month's part for the enterprise's other periods;
    ``past``: the sums of earlier months of the lines, which ``activity`` does not hold."""
    sums = {key: s.copy() for key, s in past.items()} if past else {}
    parts = {} if parts is None else parts
    for a in sorted(activity, key=lambda a: (a.meter_id, a.quantity, a.role, a.month)):
        key = (a.meter_id, a.quantity, a.role)
        s = sums.get(key)
        if s is None:
            s = sums[key] = LineSum(a)
        sel = selection_for(selections, a)
        part = parts.get(id(a))
        if part is None:
            part = parts[id(a)] = (a, _month_part(a, sel))
        s.add(a, sel, part[1])
    if past:
        sums = dict(sorted(sums.items()))  # the order of one pass over every month
    for s in sums.values():
        s.finish()
    return sums


def _month_part(a: MonthActivity, sel: Selection) -> MonthPart:
    """The month's part of its line (the same in every period that holds the month)."""
    scale = 10**a.scale
    signed = a.sign * a.activity_fp
    tco2 = tce_eq = tce_el = None
    if a.role != "measured" and (factor := sel.tco2_per_unit) is not None:
        tco2 = dec_ratio(signed * factor.numerator, factor.denominator * scale)
    if a.scope is not None and sel.tce_equivalent is not None and sel.tce_equal is not None:
        eq, el = sel.tce_equivalent, sel.tce_equal
        tce_eq = dec_ratio(signed * eq.numerator, eq.denominator * scale)
        tce_el = dec_ratio(signed * el.numerator, el.denominator * scale)
    return MonthPart(
        month=a.month,
        activity=dec_ratio(a.activity_fp, scale),
        tco2=tco2 if a.scope is not None else None,
        factor_id=sel.factor_id if a.role != "measured" else None,
        tce_equivalent=tce_eq,
        tce_equal=tce_el,
        tco2_avoided=tco2 if a.role == "own_generation" else None,
        buckets=a.buckets,
        covered_ms=a.covered_ms,
    )


def _line(s: LineSum, period_ms: int) -> Line:
    a = s.first
    booked = a.scope is not None
    return Line(
        meter_id=a.meter_id,
        carrier=a.carrier,
        quantity=a.quantity,
        role=a.role,
        source=a.source,
        scope=a.scope,
        unit=a.unit,
        activity=_d(s.activity),
        tco2=_d(s.tco2) if booked and s.has_factor else None,
        tco2_avoided=_d(s.tco2) if a.role == "own_generation" else None,
        tco2_measured=_d(s.activity) if a.role == "measured" else None,
        tce_equivalent=_d(s.tce_equivalent) if booked else None,
        tce_equal=_d(s.tce_equal) if booked else None,
        factors=list(s.factors.values()),
        formula="; ".join(s.formulas),
        tce_factors=list(s.tce_factors.values()),
        tce_formula="; ".join(s.tce_formulas),
        covered_ms=s.covered_ms,
        estimated_ms=s.estimated_ms,
        coverage=dec_ratio(s.covered_ms, period_ms) if period_ms else Decimal(0),
        buckets=s.buckets,
        last_bucket=s.last_bucket,
        months=s.months,
    )


def _by_carrier(sums: Iterable[LineSum]) -> list[CarrierTotal]:
    groups: dict[tuple[str, str, str], list[LineSum]] = defaultdict(list)
    for s in sums:
        groups[(s.first.carrier, s.first.role, s.first.unit)].append(s)
    out = []
    for (carrier, role, unit), members in sorted(groups.items()):
        booked = members[0].first.scope is not None
        out.append(
            CarrierTotal(
                carrier=carrier,
                role=role,
                unit=unit,
                meters=len({m.first.meter_id for m in members}),
                activity=_d(_total(m.activity for m in members)),
                tco2=_d(_total(m.tco2 for m in members)) if booked else None,
                tce_equivalent=_d(_total(m.tce_equivalent for m in members)) if booked else None,
            )
        )
    return out


def _green_power(
    inputs: AccountInputs,
    library: FactorLibrary,
    activity: Sequence[MonthActivity],
    selections: Selections,
) -> tuple[Line, Fraction] | None:
    """Residual policy: green purchases of a month, up to its purchased electricity, at 0."""
    if library.settings.green_power != "residual":
        return None
    purchased: dict[date, Fraction] = defaultdict(Fraction)
    for a in activity:
        if a.carrier == "electricity" and a.role == "purchased":
            purchased[a.month] += a.activity
    if not purchased:
        return None
    rows = [(g.month, g.kwh, g.certificates) for g in inputs.green_power if g.month in purchased]
    if not rows:
        return None
    kwh, tco2, parts, refs = Fraction(0), Fraction(0), [], {}
    certificates = []
    for month, total, certs in rows:
        green = min(Fraction(total), purchased[month])
        sel = selections[("electricity", month, "")]
        assert sel.tco2_per_unit is not None  # noqa: S101 - electricity always has a factor
        kwh -= green
        tco2 -= green * sel.tco2_per_unit
        refs.update({f.ref: f for f in sel.factors})
        certificates.append(certs)
        parts.append(
            MonthPart(
                month=month,
                activity=dec_ratio(-green.numerator, green.denominator),
                tco2=dec(-green * sel.tco2_per_unit),
                factor_id=sel.factor_id,
                tce_equivalent=None,
                tce_equal=None,
            )
        )
    line = Line(
        meter_id="green-power",
        carrier="electricity",
        quantity="energy_import",
        role="green_power",
        source=f"绿电 certificates {'; '.join(certificates)}",
        scope=2,
        unit="kWh",
        activity=_d(_exact(kwh)),
        tco2=dec(tco2),
        factors=list(refs.values()),
        formula="green kWh (up to the month's purchases) zero-rated: - kWh x factor / 1000",
        months=parts,
    )
    return line, tco2


def _totals(sums: Iterable[LineSum], green: Fraction) -> tuple[Totals, Fraction, Fraction]:
    """The totals, and the exact total tCO2 and tce (当量值) that intensities divide."""
    by: dict[str, Exactly] = defaultdict(lambda: _NOTHING)
    tce_eq, tce_el = _NOTHING, _NOTHING
    measured: Exactly | None = None
    for s in sums:
        a = s.first
        if a.role == "measured":
            measured = _plus(measured or _NOTHING, s.activity)
            continue
        if a.role == "own_generation":
            by["avoided"] = _plus(by["avoided"], s.tco2)
            continue
        if a.role in ("combustion", "process"):
            key = a.role
        elif a.carrier in ("natural_gas", "diesel"):
            key = "combustion"  # a fuel is burnt here whatever the registry calls it
        else:
            key = f"{a.role}_{'heat' if a.carrier in ('steam', 'heat') else 'electricity'}"
        by[key] = _plus(by[key], s.tco2)
        tce_eq = _plus(tce_eq, s.tce_equivalent)
        tce_el = _plus(tce_el, s.tce_equal)
    scope1 = _plus(by["combustion"], by["process"])
    exported = _plus(by["exported_electricity"], by["exported_heat"])  # already negative
    scope2 = _total((by["purchased_electricity"], by["purchased_heat"], exported, _exact(green)))
    total = _plus(scope1, scope2)
    totals = Totals(
        combustion=_d(by["combustion"]),
        process=_d(by["process"]),
        purchased_electricity=_d(by["purchased_electricity"]),
        purchased_heat=_d(by["purchased_heat"]),
        exported_electricity=_d(_negated(by["exported_electricity"])),
        exported_heat=_d(_negated(by["exported_heat"])),
        recovered=Decimal(0),
        green_power=_d(_exact(green)),
        total=_d(total),
        scope1=_d(scope1),
        scope2=_d(scope2),
        own_generation_avoided=_d(by["avoided"]),
        measured=None if measured is None else _d(measured),
        tce_equivalent=_d(tce_eq),
        tce_equal=_d(tce_el),
    )
    return totals, Fraction(*total), Fraction(*tce_eq)


def _intensity(
    total: Fraction, tce: Fraction, figures: Mapping[str, Fraction | None], unit: str | None
) -> Intensity:
    """Exact ratios of exact values, each rounded once."""

    def ratio(numerator: Fraction, name: str) -> Decimal | None:
        denominator = figures[name]
        if not denominator:
            return None
        flip = -1 if denominator < 0 else 1
        return dec_ratio(
            flip * numerator.numerator * denominator.denominator,
            flip * numerator.denominator * denominator.numerator,
        )

    return Intensity(
        per_value_added=ratio(total, "value_added"),
        per_revenue=ratio(total, "revenue"),
        per_output=ratio(total, "output_quantity"),
        output_unit=unit,
        tce_per_value_added=ratio(tce, "value_added"),
    )


def _quality(
    enterprise: Enterprise,
    events: Mapping[str, int],
    sums: Iterable[LineSum],
    *,
    hi: datetime,
    period_ms: int,
    offline_after_s: int,
) -> Quality:
    own: dict[str, tuple[int, int, datetime | None]] = {}
    for s in sums:  # a meter's coverage is that of the quantity it is booked by
        if enterprise.meters.get(s.first.meter_id) == s.first.quantity:
            own[s.first.meter_id] = (s.covered_ms, s.estimated_ms, s.last_bucket)
    meters = sorted(enterprise.meters)
    covered = sum(own.get(m, (0, 0, None))[0] for m in meters)
    estimated = sum(own.get(m, (0, 0, None))[1] for m in meters)
    horizon = hi - timedelta(seconds=offline_after_s) - BUCKET
    offline = [m for m in meters if (last := own.get(m, (0, 0, None))[2]) is None or last < horizon]
    denominator = len(meters) * period_ms
    return Quality(
        meters=len(meters),
        coverage=dec_ratio(covered, denominator) if denominator else Decimal(0),
        estimated_share=dec_ratio(estimated, covered) if covered else Decimal(0),
        offline_meters=offline,
        events=dict(sorted(events.items())),
        period_ms=period_ms,
    )


def _cross_check(lines: Sequence[Line], totals: Totals) -> CrossCheck | None:
    stacks = [line.meter_id for line in lines if line.role == "measured"]
    if not stacks or totals.measured is None:
        return None
    return CrossCheck(
        stacks=stacks,
        measured_tco2=totals.measured,
        calculated_scope1_tco2=totals.scope1,
        difference_tco2=totals.measured - totals.scope1,
        note="CEMS (HJ 75-2017) is a live cross-check; the account of record is calculated."
        " A kiln stack also carries process CO2 (calcination) that fuel factors do not.",
    )


# --- economic data ------------------------------------------------------------------------------

_FIELDS = ("value_added", "revenue", "output_quantity")


@dataclass(frozen=True)
class _Reported:
    """A period's economic rows by month and by year, and its one output unit (else None)."""

    monthly: dict[date, list[Decimal | None]]
    yearly: dict[int, list[Decimal | None]]
    unit: str | None


@dataclass(frozen=True)
class _Added:
    """Months of one economic figure added so far: whole months as integers over a common
    denominator, months in progress as a rational; ``missing``: the basis once one is missing."""

    numerator: int = 0
    denominator: int = 1
    partial: Exactly = _NOTHING
    notes: tuple[str, ...] = ()
    missing: str | None = None


# per period: its rows, and (field index, whole months) -> those months added (see _known)
EconomicsKept = dict[Period, tuple[_Reported, dict[tuple[int, tuple[date, ...]], _Added]]]


def economics_of(
    rows: Iterable[EconomicRow],
    period: Period,
    lo: datetime,
    hi: datetime,
    kept: EconomicsKept | None = None,
) -> tuple[Economics, dict[str, Fraction | None]]:
    """Value added, revenue and output for the period, from the monthly or annual figures.

    A month uses its own figure, else its year's / 12, else the previous year's / 12
    (estimated); the month in progress counts for the elapsed share of it. A whole past year with
    an annual figure uses it as is. Also the exact values, by field name. ``kept``: what earlier
    calls with the same rows computed (the whole months do not change between live cycles).
    """
    entry = None if kept is None else kept.get(period)
    if entry is None:
        entry = (_reported(rows, period), {})
        if kept is not None:
            kept[period] = entry
    reported, added = entry
    figures: dict[str, Figure] = {}
    exact: dict[str, Fraction | None] = {}
    yearly, unit = reported.yearly, reported.unit
    for index, name in enumerate(_FIELDS):
        whole = yearly.get(period.start.year) if period.kind == "year" and period.closed else None
        if name == "output_quantity" and unit is None:
            figures[name], exact[name] = Figure(value=None, basis="missing"), None
        elif (
            period.kind == "year"
            and period.closed
            and whole
            and (value := whole[index]) is not None
        ):
            figures[name] = Figure(value=value, basis="reported (annual)")
            exact[name] = Fraction(value)
        else:
            figures[name], exact[name] = _by_month(
                period, lo, hi, index=index, reported=reported, kept=added
            )
    economics = Economics(
        value_added=figures["value_added"],
        revenue=figures["revenue"],
        output_quantity=figures["output_quantity"],
        output_unit=unit,
    )
    return economics, exact


def _reported(rows: Iterable[EconomicRow], period: Period) -> _Reported:
    first = date(period.start.year - 1, 1, 1)
    monthly: dict[date, list[Decimal | None]] = {}
    yearly: dict[int, list[Decimal | None]] = {}
    units = set()
    for row in rows:
        if not first <= row.start < period.end:
            continue
        kind, start, va, revenue, output, output_unit = (
            row.kind, row.start, row.value_added, row.revenue, row.output_quantity,
            row.output_unit,
        )  # fmt: skip
        if kind == "month":
            monthly[start] = [va, revenue, output]
        else:
            yearly[start.year] = [va, revenue, output]
        if output_unit is not None:
            units.add(output_unit)
    return _Reported(monthly, yearly, units.pop() if len(units) == 1 else None)


def _by_month(
    period: Period,
    lo: datetime,
    hi: datetime,
    *,
    index: int,
    reported: _Reported,
    kept: dict[tuple[int, tuple[date, ...]], _Added],
) -> tuple[Figure, Fraction | None]:
    """Whole months are added as integers over a common denominator and the month in progress
    as a rational: the same exact sum as adding month by month, with one normalisation. The
    leading whole months' sum is kept (``kept``) for the next call."""
    months, whole, rest = _split(period, lo, hi)
    key = (index, months)
    done = kept.get(key)
    if done is None:
        done = kept[key] = _add(_Added(), whole, index, reported)
    done = _add(done, rest, index, reported)
    if done.missing is not None:
        return Figure(value=None, basis=done.missing), None
    if not done.notes:
        return Figure(value=None, basis="missing"), None
    total = _plus((done.numerator, done.denominator), done.partial)
    if all(n == "reported" for n in done.notes):
        return Figure(value=_d(total), basis="reported"), Fraction(*total)
    kinds = sorted(set(done.notes))
    return Figure(value=_d(total), basis="estimated: " + "; ".join(kinds)), Fraction(*total)


# a month of a period: the month, its elapsed and whole seconds, and the note of a month in
# progress (see _shares)
_Share = tuple[date, int, int, str]


def _add(added: _Added, shares: Iterable[_Share], index: int, reported: _Reported) -> _Added:
    """``added`` and the months of ``shares`` (each for its share)."""
    if added.missing is not None:
        return added
    numerator, denominator, partial = added.numerator, added.denominator, added.partial
    notes = list(added.notes)
    for month, elapsed, seconds, elapsed_note in shares:
        found = _month_value(month, index, reported.monthly, reported.yearly)
        if found is None:
            return _Added(missing=f"missing for {month:%Y-%m}")
        (n, d), how = found
        if elapsed != seconds:
            how += elapsed_note
            partial = _plus(partial, (n * elapsed, d * seconds))
        elif denominator % d == 0:
            numerator += n * (denominator // d)
        else:
            common = lcm(denominator, d)
            numerator = numerator * (common // denominator) + n * (common // d)
            denominator = common
        notes.append(how)
    return _Added(numerator, denominator, partial, tuple(notes))


@lru_cache(maxsize=256)
def _split(
    period: Period, lo: datetime, hi: datetime
) -> tuple[tuple[date, ...], tuple[_Share, ...], tuple[_Share, ...]]:
    """:func:`_shares` as the leading whole months (and their months) and the rest."""
    shares = _shares(period, lo, hi)
    cut = next((i for i, s in enumerate(shares) if s[1] != s[2]), len(shares))
    return tuple(s[0] for s in shares[:cut]), shares[:cut], shares[cut:]


def _shares(period: Period, lo: datetime, hi: datetime) -> tuple[_Share, ...]:
    """The months of the period with the elapsed share of each in [lo, hi) (none: skipped)."""
    out = []
    for month in period.months():
        start, end = local_midnight(month), local_midnight(add_months(month, 1))
        elapsed_s = (min(end, hi) - max(start, lo)).total_seconds()
        if elapsed_s <= 0:
            continue
        elapsed = int(elapsed_s)  # a month begun less than a second ago counts for 0
        seconds = int((end - start).total_seconds())
        out.append((month, elapsed, seconds, f" x {elapsed / seconds:.3f} of the month elapsed"))
    return tuple(out)


def _month_value(
    month: date,
    index: int,
    monthly: dict[date, list[Decimal | None]],
    yearly: dict[int, list[Decimal | None]],
) -> tuple[tuple[int, int], str] | None:
    """The month's own figure, else its year's / 12, else the previous year's / 12, as
    (numerator, denominator)."""
    row = monthly.get(month)
    if row is not None and (value := row[index]) is not None:
        return _ratio(value), "reported"
    for year in (month.year, month.year - 1):
        row = yearly.get(year)
        if row is not None and (value := row[index]) is not None:
            n, d = _ratio(value)
            return (n, d * 12), f"{year} annual / 12"
    return None


@lru_cache(maxsize=65_536)
def _ratio(value: Decimal) -> tuple[int, int]:
    return value.as_integer_ratio()
