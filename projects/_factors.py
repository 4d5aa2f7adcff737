"""Which library factor a project's month uses, from rows of the ledger's ``factors`` table.

The method names the grid factor (region and series): a project's reductions do not follow the
accounts' policy, which a bank's disclosure must not see change under it. Of the factors
published by the day of computation, the latest data year not after the month's year, then the
highest version (the ledger's rule, docs/accounts.md). Every value is exact, per activity unit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from fractions import Fraction

from accounts.ledger import (
    NCV_PER_UNIT,
    Factor,
    FactorLibrary,
    fuel_tco2_per_unit,
    latest_published,
)
from carbonledger.errors import AccountsError
from projects._errors import MethodError

_FUELS = {"natural_gas": "natural_gas", "diesel": "diesel"}


@dataclass(frozen=True)
class Choice:
    """tCO2 per activity unit of a carrier in a month, and the factor it came from."""

    carrier: str
    tco2_per_unit: Fraction
    factor: Factor
    formula: str


def grid(rows: Sequence[Factor], region: str, series: str, year: int, as_of: date) -> Factor:
    """The grid factor (tCO2/MWh) the method names, for a month of ``year``: the ledger's
    choice with the method's region and series instead of the accounts' policy."""
    try:
        return FactorLibrary(list(rows)).grid(year, as_of, series, region)
    except AccountsError as exc:
        raise MethodError(str(exc)) from exc


def choose(
    rows: Sequence[Factor],
    carrier: str,
    month: date,
    as_of: date,
    *,
    region: str,
    series: str,
) -> Choice:
    """tCO2 per metered unit of ``carrier`` (kWh, Nm3, t, GJ) in ``month``."""
    if carrier in ("electricity", "pv"):
        f = grid(rows, region, series, month.year, as_of)
        return Choice(carrier, Fraction(f.value) / 1000, f, f"kWh / 1000 x {f.value} tCO2/MWh")
    if carrier in _FUELS:
        fuel = latest_published(
            (
                r
                for r in rows
                if r.kind == "fuel"
                and r.subject == _FUELS[carrier]
                and r.guideline == "general"
                and r.valid_on(month)
            ),
            as_of,
        )
        if fuel is None or fuel.ncv is None or fuel.carbon_content is None:
            raise MethodError(f"no default NCV for {carrier} valid on {month}")
        if fuel.oxidation is None or fuel.ncv_unit not in NCV_PER_UNIT:
            raise MethodError(f"factor {fuel.ref}: no oxidation rate or an unknown NCV unit")
        f = fuel
        value = fuel_tco2_per_unit(
            fuel.ncv, str(fuel.ncv_unit), fuel.carbon_content, fuel.oxidation
        )
        formula = (
            f"NCV {f.ncv} {f.ncv_unit} x CC {f.carbon_content} tC/TJ x OF {f.oxidation} x 44/12"
        )
        return Choice(carrier, value, f, formula)
    if carrier == "heat":
        heat = latest_published(
            (r for r in rows if r.kind == "heat" and r.subject == "heat" and r.valid_on(month)),
            as_of,
        )
        if heat is None:
            raise MethodError(f"no heat factor valid on {month}")
        return Choice(carrier, Fraction(heat.value), heat, f"GJ x {heat.value} tCO2/GJ")
    raise MethodError(
        f"carrier {carrier} is not supported by project methods (steam needs its enthalpy per"
        " meter; meter it as heat in GJ)"
    )
