"""The demo's climate projects, derived from the simulated city (``simulate projects``).

- a rooftop PV plant: the first enterprise (by code) with a PV meter, measured by generation x
  the Zhejiang grid factor; declared, screened and admitted, so its reductions grow live;
- a boiler retrofit with a baseline year (IPMVP option C on its gas meter, production as the
  driver): declared only; the simulated city has no readings of the baseline year, so
  screening refuses its baseline (what the bureau sees when the evidence is missing);
- the demo bank's loans: one to each project, 60 % of its investment.

Idempotent: a project or loan already there is left as it is. Imports psycopg (through
:mod:`projects` and :mod:`finance`): not re-exported by :mod:`simulator`.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import psycopg

from carbonledger.csvfile import Problems
from finance import apply_loans, validate_loans
from projects import Declaration, Stage, read_projects
from projects.library import Actor, admit, declare, screen

from .city import City, Meter

YUAN_PER_KWP = Decimal(4000)  # rooftop PV, installed cost [estimate, for the demo only]


def _first(city: City, carrier: str) -> Meter | None:
    meters = sorted((m for m in city.meters if m.carrier == carrier), key=lambda m: m.id)
    return meters[0] if meters else None


def demo_declarations(city: City, today: date) -> list[Declaration]:
    """The demo's projects for ``city`` (none of a kind whose meter the city lacks)."""
    out = []
    district = {e.code: e.district for e in city.enterprises}
    if pv := _first(city, "pv"):
        kwp = Decimal(str(round(pv.rate)))
        out.append(Declaration.model_validate({
            "id": f"pv-{pv.enterprise_code[-6:]}", "owner_code": pv.enterprise_code,
            "title": f"屋顶分布式光伏 {kwp} kWp", "purpose": "mitigation", "area": "clean_energy",
            "subcategory": "solar", "location": district[pv.enterprise_code],
            "total_investment_yuan": kwp * YUAN_PER_KWP,
            "start_of_operation": date(today.year, 1, 1),
            # about 1,000 full-load hours a year in Lishui, x 0.4974 tCO2/MWh
            "expected_annual_tco2": (kwp * Decimal("0.4974")).quantize(Decimal("0.1")),
            "method": "generation", "params": {"grid_region": "zhejiang"},
            "meters": {pv.id: "generation"},
        }))  # fmt: skip
    if gas := _first(city, "natural_gas"):
        out.append(Declaration.model_validate({
            "id": f"boiler-{gas.enterprise_code[-6:]}", "owner_code": gas.enterprise_code,
            "title": "燃气锅炉节能改造", "purpose": "mitigation", "area": "energy_saving",
            "subcategory": "industrial_efficiency", "location": district[gas.enterprise_code],
            "total_investment_yuan": Decimal(1_500_000),
            "start_of_operation": date(today.year, 1, 1), "expected_annual_tco2": Decimal(120),
            "method": "ipmvp_c",
            "params": {"baseline_from": date(today.year - 1, 1, 1),
                       "baseline_to": date(today.year - 1, 12, 1), "driver": "production"},
            "meters": {gas.id: "measured"},
        }))  # fmt: skip
    return out


def register_projects(
    conn: psycopg.Connection, city: City, bank_id: str | None, now: datetime
) -> list[str]:
    """Declare the demo's projects (admitting the PV plant) and the bank's loans; lines to show."""
    said = []
    known = {p.id: p for p in read_projects(conn)}
    bureau = Actor("bureau", "demo bureau")
    for d in demo_declarations(city, now.date()):
        if d.id not in known:
            declare(conn, d, Actor("enterprise", "demo", d.owner_code), now)
            result = screen(conn, d.id, bureau, now)
            failed = "; ".join(f"{c.rule}: {c.detail}" for c in result.criteria if not c.passed)
            if result.passed:
                admit(conn, d.id, bureau, now)
            said.append(f"project {d.id} ({d.method}): {'admitted' if result.passed else failed}")
        elif known[d.id].stage is Stage.ADMITTED:
            said.append(f"project {d.id}: in the library")
        if bank_id is not None:
            said += _loan(conn, bank_id, d, now)
    return said


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
