"""The demo's climate projects, derived from the simulated city (``simulate projects``).

- a rooftop PV plant: the first enterprise (by meter id) with a PV meter, measured by generation
  x the Zhejiang grid factor;
- a boiler retrofit (IPMVP option C on the first retrofitted gas meter, production as the
  driver): the baseline year before :data:`.city.RETROFIT_FROM` is written directly as rollups
  (:func:`.history.write_city_history`; the demo only fast-forwards today through MQTT), the
  enterprise reports its monthly output from the same profile (:func:`.profiles.output_until`),
  so the bureau screens a baseline that passes ASHRAE 14 on its own figures;
- a small hydro station (the first hydro meter), measured like the PV plant;
- the demo bank's loans: one to each project, 60 % of its investment.

Each is declared, screened and admitted. The month so far of the boiler's and the hydro
station's meters is written too (from the 1st to today's midnight, when not booked that far
yet), so their month to date is whole; a re-run reports the boiler's output again, as far as
its gas is booked, so its saving keeps up with its gas. Idempotent otherwise: a project or loan
already there is left as it is. Imports psycopg (through :mod:`projects` and :mod:`finance`):
not re-exported by :mod:`simulator`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg

from carbonledger.csvfile import Problems
from carbonledger.tz import SHANGHAI
from finance import apply_loans, validate_loans
from projects import Declaration, Stage, live_lines, read_projects
from projects.library import Actor, DriverValue, admit, declare, screen, set_drivers

from .city import RETROFIT_FROM, City, Drive, Meter
from .economics import months
from .profiles import BOILER_NM3_PER_T, HYDRO_CF, RETROFIT_SAVING, output_until

YUAN_PER_KWP = Decimal(4000)  # rooftop PV, installed cost [estimate, for the demo only]
YUAN_PER_KW_HYDRO = Decimal(12_000)  # small hydro, installed cost [estimate, for the demo only]
YUAN_PER_NM3_H = Decimal(30_000)  # boiler retrofit per Nm3/h of the boiler [estimate]
GRID_T_PER_MWH = Decimal("0.4974")  # the Zhejiang grid factor the expectations are sized with
GAS_T_PER_NM3 = 0.002162  # tCO2 per Nm3 (domain.md §3.1), for the expected reduction only
_EPOCH = date(1970, 1, 1).toordinal()
_TENTH = Decimal("0.1")


def _first(city: City, keep: Callable[[Meter], bool]) -> Meter | None:
    meters = sorted((m for m in city.meters if keep(m)), key=lambda m: m.id)
    return meters[0] if meters else None


def pv_meter(city: City) -> Meter | None:
    return _first(city, lambda m: m.drive is Drive.SOLAR)


def boiler_meter(city: City) -> Meter | None:
    """The demo's retrofit: the first gas meter whose boiler was retrofitted."""
    return _first(city, lambda m: m.retrofit_from is not None)


def hydro_meter(city: City) -> Meter | None:
    return _first(city, lambda m: m.drive is Drive.HYDRO)


def baseline_months() -> tuple[date, date]:
    """The boiler's baseline: the twelve months before the retrofit (first days)."""
    first = date(RETROFIT_FROM.year - 1, RETROFIT_FROM.month, 1)
    return first, (RETROFIT_FROM.replace(day=1) - timedelta(days=1)).replace(day=1)


def _day(d: date) -> int:
    return d.toordinal() - _EPOCH


def _midnight(d: date) -> int:
    return int(datetime(d.year, d.month, d.day, tzinfo=SHANGHAI).timestamp())


def monthly_output(city: City, meter: Meter, month: date, as_of: datetime) -> Decimal:
    """The boiler owner's output (t) in ``month`` up to ``as_of`` (the whole month if over)."""
    nxt = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
    until = min(int(as_of.timestamp()), _midnight(nxt))
    value = output_until(meter, city.seed, _day(month), until)
    return Decimal(repr(value)).quantize(Decimal("0.001"))


def demo_declarations(city: City, today: date) -> list[Declaration]:
    """The demo's projects for ``city`` (none of a kind whose meter the city lacks)."""
    out = []
    district = {e.code: e.district for e in city.enterprises}
    if pv := pv_meter(city):
        kwp = Decimal(str(round(pv.rate)))
        out.append(Declaration.model_validate({
            "id": f"pv-{pv.enterprise_code[-6:]}", "owner_code": pv.enterprise_code,
            "title": f"屋顶分布式光伏 {kwp} kWp", "purpose": "mitigation", "area": "clean_energy",
            "subcategory": "solar", "location": district[pv.enterprise_code],
            "total_investment_yuan": kwp * YUAN_PER_KWP,
            "start_of_operation": date(today.year, 1, 1),
            # about 1,000 full-load hours a year in Lishui, x 0.4974 tCO2/MWh
            "expected_annual_tco2": (kwp * GRID_T_PER_MWH).quantize(_TENTH),
            "method": "generation", "params": {"grid_region": "zhejiang"},
            "meters": {pv.id: "generation"},
        }))  # fmt: skip
    if gas := boiler_meter(city):
        first, last = baseline_months()
        out.append(Declaration.model_validate({
            "id": f"boiler-{gas.enterprise_code[-6:]}", "owner_code": gas.enterprise_code,
            "title": "燃气锅炉节能改造", "purpose": "mitigation", "area": "energy_saving",
            "subcategory": "industrial_efficiency", "location": district[gas.enterprise_code],
            "total_investment_yuan": _boiler_investment(gas),
            "start_of_operation": RETROFIT_FROM,
            "expected_annual_tco2": _boiler_expected(city, gas),
            "method": "ipmvp_c",
            "params": {"baseline_from": first, "baseline_to": last, "driver": "production"},
            "meters": {gas.id: "measured"},
        }))  # fmt: skip
    if hydro := hydro_meter(city):
        kw = Decimal(str(round(hydro.rate)))
        hours = Decimal(repr(sum(HYDRO_CF) / 12 * 8760)).quantize(Decimal(1))
        out.append(Declaration.model_validate({
            "id": f"hydro-{hydro.enterprise_code[-6:]}", "owner_code": hydro.enterprise_code,
            "title": f"小水电站 {kw} kW", "purpose": "mitigation", "area": "clean_energy",
            "subcategory": "hydro", "location": district[hydro.enterprise_code],
            "total_investment_yuan": kw * YUAN_PER_KW_HYDRO,
            "start_of_operation": date(today.year, 1, 1),
            # kW x full-load hours of the seasonal capacity factors x the grid factor
            "expected_annual_tco2": (kw * hours / 1000 * GRID_T_PER_MWH).quantize(_TENTH),
            "method": "generation", "params": {"grid_region": "zhejiang"},
            "meters": {hydro.id: "generation"},
        }))  # fmt: skip
    return out


def _boiler_investment(gas: Meter) -> Decimal:
    """Yuan, by the boiler's rate, to the 10,000."""
    return Decimal(int(round(Decimal(repr(gas.rate)) * YUAN_PER_NM3_H, -4)))


def _boiler_expected(city: City, gas: Meter) -> Decimal:
    """The saving share of the baseline year's gas at its output, as tCO2 (the sizing estimate)."""
    first, _ = baseline_months()
    out = output_until(gas, city.seed, _day(first), _midnight(RETROFIT_FROM))
    nm3 = out * BOILER_NM3_PER_T * RETROFIT_SAVING
    return Decimal(repr(nm3 * GAS_T_PER_NM3)).quantize(_TENTH)


def register_projects(
    conn: psycopg.Connection, city: City, bank_id: str | None, now: datetime
) -> list[str]:
    """Declare, screen and admit the demo's projects, with their meters' history and drivers,
    and the bank's loans; the lines to show, ending with the measured reductions."""
    said = []
    known = {p.id: p for p in read_projects(conn)}
    bureau = Actor("bureau", "demo bureau")
    for d in demo_declarations(city, now.date()):
        owner = Actor("enterprise", "demo", d.owner_code)
        found = known.get(d.id)
        if found is None:
            declare(conn, d, owner, now)
        new = found is None or found.stage is Stage.DECLARED
        said += _history(conn, city, d, now, baseline=new)
        if d.method == "ipmvp_c":
            said += _drivers(conn, city, d, owner, now)
        if new:
            result = screen(conn, d.id, bureau, now)
            failed = "; ".join(f"{c.rule}: {c.detail}" for c in result.criteria if not c.passed)
            if result.passed:
                admit(conn, d.id, bureau, now)
            if d.method != "generation":  # the baseline's statistics, as the bureau saw them
                said += [f"  {d.id} {c.rule}: {c.detail}" for c in result.criteria[-1:]]
            said.append(f"project {d.id} ({d.method}): {'admitted' if result.passed else failed}")
        elif found is not None and found.stage is Stage.ADMITTED:
            said.append(f"project {d.id}: in the library")
        if bank_id is not None:
            said += _loan(conn, bank_id, d, now)
    said.append("measured reduction, month to date:")
    return said + live_lines(conn, now)


def _history(
    conn: psycopg.Connection, city: City, d: Declaration, now: datetime, *, baseline: bool
) -> list[str]:
    """The rollups the demo's fast-forward of today lacks for the boiler and the hydro station:
    the baseline year (``baseline``, before screening), and the month so far (1st to today's
    midnight) unless its meters are booked that far already (a re-run the same day)."""
    from .history import series_of, write_city_history  # noqa: PLC0415 - analytics on demand

    if d.subcategory == "solar":
        return []  # the PV plant shows what today's readings give (as before)
    series = [s for s in series_of(city) if s.meter_id in d.meters]
    said = []
    if baseline and d.params.baseline_from is not None and d.params.baseline_to is not None:
        end = (d.params.baseline_to.replace(day=28) + timedelta(days=4)).replace(day=1)
        report = write_city_history(conn, city, d.params.baseline_from, end, series=series)
        said.append(f"  {d.id}: baseline rollups {d.params.baseline_from}..{end}: {report.rows}")
    today = now.astimezone(SHANGHAI).date()
    midnight = datetime(today.year, today.month, today.day, tzinfo=SHANGHAI)
    booked = conn.execute(
        "SELECT min(time) FROM rollup_frontiers WHERE meter_id = ANY(%s)", (list(d.meters),)
    ).fetchone()
    if today.day > 1 and (booked is None or booked[0] is None or booked[0] < midnight):
        report = write_city_history(conn, city, today.replace(day=1), today, series=series)
        said.append(f"  {d.id}: month so far written to {today}: {report.rows} rollups")
    return said


def _drivers(
    conn: psycopg.Connection, city: City, d: Declaration, owner: Actor, now: datetime
) -> list[str]:
    """The owner reports its monthly output: the baseline year, and this month as far as its
    gas is booked (the meter's rollup frontier, or ``now``), so output and gas cover one span
    while the demo's fast-forward catches up."""
    meter = city.meter(next(iter(d.meters)))
    row = conn.execute(
        "SELECT time FROM rollup_frontiers WHERE meter_id = %s AND quantity = %s",
        (meter.id, meter.quantity),
    ).fetchone()
    booked = now if row is None else min(now, row[0])
    assert d.params.baseline_from and d.params.baseline_to  # noqa: S101 - IPMVP declarations
    wanted = [*months(d.params.baseline_from, d.params.baseline_to)]
    this_month = now.astimezone(SHANGHAI).date().replace(day=1)
    if this_month >= d.start_of_operation:
        wanted.append(this_month)
    values = [
        DriverValue(m, monthly_output(city, meter, m, booked), "simulator: production records")
        for m in wanted
    ]
    set_drivers(conn, d.id, values, owner)
    return [f"  {d.id}: output {values[-1].month:%Y-%m} {values[-1].value} t (reported)"]


def _loan(conn: psycopg.Connection, bank_id: str, d: Declaration, now: datetime) -> list[str]:
    amount = (d.total_investment_yuan * Decimal("0.6")).quantize(Decimal(1))
    row = {
        "loan_id": f"CRF-{d.id}", "borrower_credit_code": d.owner_code, "product": "碳减排贷款",
        "green_category": d.area, "purpose": d.title, "outstanding_yuan": str(amount),
        "committed_yuan": str(amount), "currency": "CNY",
        "start_date": date(now.year, 1, 1).isoformat(),
        "maturity_date": date(now.year + 5, 1, 1).isoformat(), "interest_rate": "3.2",
        "as_of": now.date().isoformat(), "project_id": d.id,
    }  # fmt: skip
    problems = Problems(Path("(simulator)"))
    records = validate_loans([(1, row)], problems, now.date(), registered=[d.owner_code])
    problems.raise_if_any()
    report = apply_loans(conn, bank_id, records, path="(simulator)", source="simulator")
    return [f"loan CRF-{d.id} of {bank_id}: {c.action}" for c in report.changes]
