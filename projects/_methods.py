"""The reduction methods, one per project kind, pure and exact (docs/projects.md).

- generation (PV, wind, small hydro): (generated - own use) kWh / 1000 x the grid factor the
  method names (tCO2/MWh);
- IPMVP option B (the retrofit's meters) and C (the whole facility): the baseline model fitted by
  OLS over the baseline months (:mod:`projects._ols`), adjusted to the month's driver, minus the
  month's metered energy, x the carrier's factor; a baseline that fails the thresholds is
  refused and no saving is claimed;
- fuel switching: per carrier, the baseline's activity per hour x the month's elapsed hours,
  minus the month's activity, x the carrier's factor of the month, summed over carriers.

Sums are over Fractions: the result does not depend on the order of the inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from fractions import Fraction

from carbonledger.tz import SHANGHAI
from projects._errors import MethodError
from projects._factors import Choice, choose
from projects._inputs import ProjectInputs
from projects._model import MeterRole, Method
from projects._ols import fit, judge
from projects._result import Baseline, Line, MonthReduction, Reductions
from projects._rules import MethodRules


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def months_between(first: date, last: date) -> list[date]:
    """Every month from ``first`` to ``last`` inclusive (first days)."""
    out, current = [], first.replace(day=1)
    while current <= last:
        out.append(current)
        current = next_month(current)
    return out


_MS = timedelta(milliseconds=1)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)


def month_ms(month: date, as_of: datetime) -> tuple[int, int]:
    """(elapsed, whole) milliseconds of the local ``month`` at ``as_of``."""
    lo, hi = _midnight(month), _midnight(next_month(month))
    elapsed = min(max(as_of, lo), hi) - lo
    whole = hi - lo
    return elapsed // _MS, whole // _MS


def reporting_months(inputs: ProjectInputs, wanted: Sequence[date]) -> list[date]:
    """The months of ``wanted`` the project reports: from its start of operation (after its
    baseline), up to the month of ``as_of``."""
    p = inputs.project
    first = p.start_of_operation.replace(day=1)
    if p.params.baseline_to is not None:
        first = max(first, next_month(p.params.baseline_to))
    today = inputs.as_of.astimezone(SHANGHAI).date()
    return [m for m in wanted if first <= m <= today]


def _quality(
    inputs: ProjectInputs, month: date, elapsed: int, min_coverage: Fraction
) -> tuple[Fraction, Fraction, list[str]]:
    ids = {m.id for m in inputs.meters}
    rows = [a for a in inputs.activity if a.month == month and a.meter_id in ids]
    covered = sum(a.covered_ms for a in rows)
    estimated = sum(a.estimated_ms for a in rows)
    denominator = len(ids) * elapsed
    coverage = Fraction(covered, denominator) if denominator else Fraction(0)
    share = Fraction(estimated, covered) if covered else Fraction(0)
    flags = []
    if missing := sorted(ids - {a.meter_id for a in rows}):
        flags.append("no_readings:" + ",".join(missing))
    if coverage < min_coverage:
        flags.append("low_coverage")
    if estimated:
        flags.append("estimated")
    return coverage, share, flags


def _choice(inputs: ProjectInputs, carrier: str, month: date) -> Choice:
    params = inputs.project.params
    return choose(
        inputs.factors,
        carrier,
        month,
        inputs.as_of.astimezone(SHANGHAI).date(),
        region=params.grid_region,
        series=params.grid_series,
    )


def _meter_lines(inputs: ProjectInputs, month: date, role: MeterRole) -> list[Line]:
    return [
        Line(f"{m.role.value} {m.id}", inputs.of_meter(month, m.id), m.unit, m.carrier)
        for m in inputs.meters
        if m.role is role
    ]


def _generation(inputs: ProjectInputs, month: date) -> tuple[Fraction, list[Line], Choice, str]:
    generated = inputs.total(month, MeterRole.GENERATION)
    own = inputs.total(month, MeterRole.OWN_USE)
    net = generated - own
    choice = _choice(inputs, "electricity", month)
    lines = [
        *_meter_lines(inputs, month, MeterRole.GENERATION),
        *_meter_lines(inputs, month, MeterRole.OWN_USE),
        Line("net generation", net, "kWh", "generated - own use"),
    ]
    formula = f"(generated - own use) {choice.formula}"
    return net * choice.tco2_per_unit, lines, choice, formula


def baseline_of(inputs: ProjectInputs, rules: MethodRules) -> Baseline:
    """The IPMVP baseline model of the measured meters, judged against the thresholds."""
    p = inputs.project
    assert p.params.baseline_from and p.params.baseline_to  # noqa: S101 - the declaration's rule
    _, unit = single_carrier(inputs)
    months = months_between(p.params.baseline_from, p.params.baseline_to)
    energy = [inputs.total(m, MeterRole.MEASURED) for m in months]
    xs: list[Fraction] | None = None
    if p.params.driver != "none":
        if missing := [m for m in months if m not in inputs.drivers]:
            raise MethodError(
                f"project {p.id}: no {p.params.driver} value for baseline month"
                f" {missing[0]:%Y-%m} (projects drivers import)"
            )
        xs = [inputs.drivers[m] for m in months]
    model = fit(xs, energy)
    limits = rules.monthly
    verdict = judge(model, limits)
    return Baseline(
        months=tuple(months),
        driver=p.params.driver,
        energy=tuple(energy),
        drivers=None if xs is None else tuple(xs),
        unit=unit,
        intercept=model.intercept,
        slope=model.slope,
        r2=model.r2,
        cv_rmse=model.cv_rmse(),
        nmbe=model.nmbe,
        accepted=verdict.accepted,
        failures=verdict.failures,
        thresholds={
            "cv_rmse_max": str(limits.cv_rmse_max),
            "nmbe_max": str(limits.nmbe_max),
            "r2_min": str(limits.r2_min),
            "min_months": str(limits.min_months),
            "source": limits.source,
        },
    )


def single_carrier(inputs: ProjectInputs) -> tuple[str, str]:
    """The one carrier (and unit) of an IPMVP project's measured meters."""
    kinds = {(m.carrier, m.unit) for m in inputs.meters if m.role is MeterRole.MEASURED}
    if len(kinds) != 1:
        raise MethodError(
            f"project {inputs.project.id}: IPMVP meters must measure one carrier, found"
            f" {sorted(k[0] for k in kinds)}"
        )
    return next(iter(kinds))


def _ipmvp(
    inputs: ProjectInputs, month: date, share: Fraction, baseline: Baseline
) -> tuple[Fraction | None, list[Line], Choice | None, str, list[str]]:
    carrier, unit = single_carrier(inputs)
    reported = inputs.total(month, MeterRole.MEASURED)
    lines = [*_meter_lines(inputs, month, MeterRole.MEASURED)]
    if not baseline.accepted:
        return None, lines, None, "baseline refused: no saving is claimed", ["baseline_rejected"]
    driver = Fraction(0)
    if baseline.driver != "none":
        if month not in inputs.drivers:
            return None, lines, None, "no driver value for the month", ["driver_missing"]
        driver = inputs.drivers[month]
        lines.append(Line(f"driver {baseline.driver}", driver, "", "routine adjustment"))
    adjusted = baseline.intercept * share + baseline.slope * driver
    saving = adjusted - reported
    choice = _choice(inputs, carrier, month)
    lines += [
        Line("adjusted baseline", adjusted, unit, "intercept x month share + slope x driver"),
        Line("reporting period", reported, unit, "metered"),
        Line("saving", saving, unit, "adjusted baseline - reporting period"),
    ]
    formula = f"(adjusted baseline - metered) {unit} x {choice.formula}"
    return saving * choice.tco2_per_unit, lines, choice, formula, []


def _fuel_switch(
    inputs: ProjectInputs, month: date, elapsed: int
) -> tuple[Fraction, list[Line], list[Choice], str]:
    p = inputs.project
    assert p.params.baseline_from and p.params.baseline_to  # noqa: S101 - the declaration's rule
    base_months = months_between(p.params.baseline_from, p.params.baseline_to)
    base_ms = sum(month_ms(m, _midnight(next_month(m)))[1] for m in base_months)
    total, lines, choices = Fraction(0), [], []
    for carrier, unit in sorted({(m.carrier, m.unit) for m in inputs.meters}):
        baseline = sum((inputs.total(m, None, carrier) for m in base_months), Fraction(0))
        expected = baseline * elapsed / base_ms
        reported = inputs.total(month, None, carrier)
        choice = _choice(inputs, carrier, month)
        choices.append(choice)
        change = (expected - reported) * choice.tco2_per_unit
        total += change
        lines += [
            Line(f"{carrier} baseline", expected, unit, "baseline activity per hour x hours"),
            Line(f"{carrier} reporting period", reported, unit, "metered"),
            Line(f"{carrier} avoided", change, "tCO2", choice.formula),
        ]
    formula = "sum over carriers of (baseline rate x hours - metered) x the carrier's factor"
    return total, lines, choices, formula


def compute(
    inputs: ProjectInputs, wanted: Sequence[date], period: str, rules: MethodRules
) -> Reductions:
    """The reductions of the months of ``wanted`` the project reports (exact)."""
    p = inputs.project
    baseline = baseline_of(inputs, rules) if p.method in (Method.IPMVP_B, Method.IPMVP_C) else None
    out = []
    for month in reporting_months(inputs, wanted):
        elapsed, whole = month_ms(month, inputs.as_of)
        share = Fraction(elapsed, whole)
        coverage, estimated, flags = _quality(inputs, month, elapsed, rules.min_coverage)
        if share < 1:
            flags.insert(0, "live")
        reduction: Fraction | None
        factors: tuple[Choice, ...]
        if p.method is Method.GENERATION:
            reduction, lines, choice, formula = _generation(inputs, month)
            factors = (choice,)
        elif p.method is Method.FUEL_SWITCH:
            reduction, lines, many, formula = _fuel_switch(inputs, month, elapsed)
            factors = tuple(many)
        else:
            assert baseline is not None  # noqa: S101 - computed above for IPMVP
            reduction, lines, found, formula, more = _ipmvp(inputs, month, share, baseline)
            factors = () if found is None else (found,)
            flags += more
        out.append(
            MonthReduction(
                month=month,
                share=share,
                reduction=reduction,
                lines=tuple(lines),
                factors=tuple(c.factor for c in factors),
                formula=formula,
                coverage=coverage,
                estimated_share=estimated,
                flags=tuple(flags),
            )
        )
    months_shown = sum((m.share for m in out), Fraction(0))
    return Reductions(
        project_id=p.id,
        method=p.method.value,
        period=period,
        as_of=inputs.as_of,
        months=tuple(out),
        expected=Fraction(p.expected_annual_tco2) * months_shown / 12,
        baseline=baseline,
    )
