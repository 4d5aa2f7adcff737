"""The derivation of an account, step by step, for people (a bank's analyst) and machines.

meters -> rollups (buckets, coverage) -> activity -> factor (value, source) -> emissions ->
totals (GB/T 32150) -> intensities -> L, industry L, K, grade and level.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from fractions import Fraction

import psycopg
from pydantic import BaseModel, ConfigDict

from accounts.ledger._model import Account, GradeRecord, Line, dec, plain
from accounts.ledger._period import Period, local_midnight
from accounts.ledger._store import get_account
from carbonledger.config import AccountsSettings
from carbonledger.tz import SHANGHAI


class Term(BaseModel):
    """One figure: what it is, how it is made from the figures above it, and its value."""

    model_config = ConfigDict(extra="forbid")
    name: str
    formula: str
    value: Decimal | None
    unit: str


class IndustryMember(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str
    tco2: Decimal
    denominator: Decimal | None


class RegisterDelta(BaseModel):
    """A cumulative meter's first and last usable reading in the period: the register delta
    times the multiplier is the activity, unless an interval crosses the period's edges (it is
    spread over its buckets) or a rollover, reset or implausible jump happened (see events)."""

    model_config = ConfigDict(extra="forbid")
    meter_id: str
    quantity: str
    multiplier: Decimal
    first_time: datetime
    first_value: float
    last_time: datetime
    last_value: float
    register_delta: Decimal
    delta_activity: Decimal
    booked_activity: Decimal
    events: dict[str, int]


class Derivation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    account: Account
    readings: list[RegisterDelta]
    totals: list[Term]
    intensities: list[Term]
    grading: list[Term]
    industry: list[IndustryMember]


def explain_account(
    conn: psycopg.Connection,
    code: str,
    period: Period,
    *,
    settings: AccountsSettings | None = None,
    now: datetime | None = None,
) -> Derivation:
    """The full derivation of ``get_account(conn, code, period)``."""
    account = get_account(conn, code, period, settings=settings, now=now)
    t = account.totals
    totals = [
        Term(
            name="E_combustion + E_process (scope 1)",
            unit="tCO2",
            formula=f"{t.combustion} + {t.process}",
            value=t.scope1,
        ),
        *(
            Term(
                name=name,
                unit="tCO2",
                formula=_sum(account.lines, role, electric=electric),
                value=value,
            )
            for name, role, electric, value in (
                ("E_purchased_electricity", "purchased", True, t.purchased_electricity),
                ("E_purchased_heat (steam, heat)", "purchased", False, t.purchased_heat),
                ("E_exported_electricity", "exported", True, t.exported_electricity),
                ("E_exported_heat", "exported", False, t.exported_heat),
            )
        ),
        Term(
            name="E_green_power (zero-rated purchases)",
            unit="tCO2",
            formula="residual policy",
            value=t.green_power,
        ),
        Term(
            name="E_total (GB/T 32150)",
            unit="tCO2",
            formula=f"{t.scope1} + {t.purchased_electricity} + {t.purchased_heat}"
            f" - {t.exported_electricity} - {t.exported_heat} + {t.green_power}"
            f" - {t.recovered} (recovered)",
            value=t.total,
        ),
        Term(
            name="scope 2 (net)",
            unit="tCO2",
            formula="purchased - exported + green power",
            value=t.scope2,
        ),
        Term(
            name="own generation, avoided (recorded, not subtracted)",
            unit="tCO2",
            formula=_sum(account.lines, "own_generation", electric=True, field="tco2_avoided"),
            value=t.own_generation_avoided,
        ),
        Term(
            name="CEMS measured (cross-check, not in E_total)",
            unit="tCO2",
            formula=_sum(account.lines, "measured", electric=False, field="tco2_measured"),
            value=t.measured,
        ),
        Term(
            name="energy, electricity 当量值",
            unit="tce",
            formula="sum of lines' tce (当量值)",
            value=t.tce_equivalent,
        ),
        Term(
            name="energy, electricity 等价值",
            unit="tce",
            formula="sum of lines' tce (等价值)",
            value=t.tce_equal,
        ),
    ]
    e, i = account.economics, account.intensity
    intensities = [
        Term(
            name="value added", unit="万元", formula=e.value_added.basis, value=e.value_added.value
        ),
        Term(name="revenue", unit="万元", formula=e.revenue.basis, value=e.revenue.value),
        Term(
            name="intensity per value added",
            unit="tCO2/万元",
            formula=f"{t.total} / {e.value_added.value}",
            value=i.per_value_added,
        ),
        Term(
            name="intensity per revenue",
            unit="tCO2/万元",
            formula=f"{t.total} / {e.revenue.value}",
            value=i.per_revenue,
        ),
        Term(
            name="intensity per output",
            unit=f"tCO2/{i.output_unit or 'unit'}",
            formula=f"{t.total} / {e.output_quantity.value}",
            value=i.per_output,
        ),
    ]
    members = _industry(conn, account, period, settings, now)
    grading: list[Term] = []
    for g in account.grades:
        grading += _grade_terms(g, account, members)
    return Derivation(
        account=account,
        readings=_register_deltas(conn, account),
        totals=totals,
        intensities=intensities,
        grading=grading,
        industry=members,
    )


_ENDS = """
SELECT (SELECT array[extract(epoch FROM time), value] FROM readings
         WHERE meter_id = %(m)s AND quantity = %(q)s AND time >= %(lo)s AND time < %(hi)s
           AND quality <> 'bad' ORDER BY time LIMIT 1),
       (SELECT array[extract(epoch FROM time), value] FROM readings
         WHERE meter_id = %(m)s AND quantity = %(q)s AND time >= %(lo)s AND time < %(hi)s
           AND quality <> 'bad' ORDER BY time DESC LIMIT 1),
       (SELECT multiplier FROM meters WHERE id = %(m)s),
       (SELECT coalesce(jsonb_object_agg(kind, n), '{}') FROM (
           SELECT kind, count(*) AS n FROM quality_events
           WHERE meter_id = %(m)s AND quantity = %(q)s AND time >= %(lo)s AND time < %(hi)s
           GROUP BY kind) e)
"""
_REGISTERS = {
    "energy_import",
    "energy_export",
    "energy_generated",
    "gas_volume",
    "steam_mass",
    "heat",
    "diesel_mass",
}


def _register_deltas(conn: psycopg.Connection, account: Account) -> list[RegisterDelta]:
    lo = local_midnight(account.period.start)
    out = []
    for line in account.lines:
        if line.quantity not in _REGISTERS or line.role == "green_power":
            continue
        args = {"m": line.meter_id, "q": line.quantity, "lo": lo, "hi": account.period.as_of}
        row = conn.execute(_ENDS, args).fetchone()
        if row is None or row[0] is None or row[1] is None:
            continue
        (t0, v0), (t1, v1), multiplier, events = row[0], row[1], row[2], row[3]
        delta = (Decimal(repr(float(v1))) - Decimal(repr(float(v0)))).normalize()
        out.append(
            RegisterDelta(
                meter_id=line.meter_id,
                quantity=line.quantity,
                multiplier=multiplier,
                first_time=datetime.fromtimestamp(float(t0), SHANGHAI),
                first_value=float(v0),
                last_time=datetime.fromtimestamp(float(t1), SHANGHAI),
                last_value=float(v1),
                register_delta=delta,
                delta_activity=plain(delta * multiplier),
                booked_activity=line.activity,
                events=events,
            )
        )
    return out


def _ratio(numerator: Decimal, denominator: Decimal | None) -> str:
    return f"{numerator} / {denominator}" if denominator else "no denominator for the period"


def _sum(lines: list[Line], role: str, *, electric: bool, field: str = "tco2") -> str:
    parts = [
        f"{line.meter_id} {getattr(line, field)}"
        for line in lines
        if line.role == role
        and (line.carrier in ("electricity", "pv")) == electric
        and getattr(line, field) is not None
    ]
    return " + ".join(parts) or "none"


def _industry(
    conn: psycopg.Connection,
    account: Account,
    period: Period,
    settings: AccountsSettings | None,
    now: datetime | None,
) -> list[IndustryMember]:
    """The industry's accounts for the same period (what industry L sums), on the basis of the
    enterprise's own grade (value added, else revenue)."""
    codes = [
        row[0].strip()
        for row in conn.execute(
            "SELECT code FROM enterprises WHERE industry_code = %s ORDER BY code",
            (account.enterprise.industry_code,),
        )
    ]
    by_va = account.economics.value_added.value is not None
    out = []
    for code in codes:
        peer = (
            account
            if code == account.enterprise.code
            else get_account(conn, code, period, settings=settings, now=now)
        )
        figure = peer.economics.value_added if by_va else peer.economics.revenue
        out.append(IndustryMember(code=code, tco2=peer.totals.total, denominator=figure.value))
    return out


def _grade_terms(g: GradeRecord, account: Account, members: list[IndustryMember]) -> list[Term]:
    basis = "value added" if g.basis == "value_added" else "revenue"
    denominator = (
        account.economics.value_added.value
        if g.basis == "value_added"
        else account.economics.revenue.value
    )
    tco2 = sum((m.tco2 for m in members if m.denominator), Decimal(0))
    money = sum((m.denominator for m in members if m.denominator), Decimal(0))
    industry = (
        f"sum E {tco2} / sum {basis} {money} over {len(members)} enterprises of {g.industry_code}"
        if members
        else f"aggregate ratio over the enterprises of {g.industry_code}"
    )
    k_check = (
        dec(Fraction(g.l_value) / Fraction(g.industry_l)) if g.l_value and g.industry_l else None
    )
    return [
        Term(
            name=f"[{g.model_version}] L",
            unit="tCO2/万元",
            formula=f"(E_total {account.totals.total} - E_sinks 0) / {basis} {denominator}",
            value=g.l_value,
        ),
        Term(
            name=f"[{g.model_version}] industry L",
            unit="tCO2/万元",
            formula=industry,
            value=g.industry_l,
        ),
        Term(
            name=f"[{g.model_version}] K",
            unit="",
            formula=f"L / industry L = {k_check}",
            value=g.k_value,
        ),
        Term(
            name=f"[{g.model_version}] result",
            unit="",
            formula=f"{g.code_text}: grade {g.grade or '-'}, level {g.level or '-'} ({g.label})",
            value=None,
        ),
    ]
