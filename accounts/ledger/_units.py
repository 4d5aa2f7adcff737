"""Unit conversions the library and the policy share (pure: the ledger's compute imports it)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

# GJ per NCV-unit quantity -> per activity unit, and tce/kgce units -> tce per activity unit
NCV_PER_UNIT = {"GJ/t": 1, "GJ/10^4Nm3": 10_000}
TCE_PER_UNIT = {"kgce/kWh": 1_000, "kgce/Nm3": 1_000, "kgce/kg": 1, "tce/GJ": 1}
CO2_PER_C = Fraction(44, 12)
GJ_PER_TCE = Fraction("29.307")  # 1 kgce = 29,307 kJ (GB/T 2589-2020)


def fuel_tco2_per_ncv_unit(ncv: Decimal, carbon_content: Decimal, oxidation: Decimal) -> Fraction:
    """tCO2 of burning one NCV-unit quantity of a fuel (a t, or 10^4 Nm3), exactly: NCV (GJ) x
    CC (tC/TJ) x OF x 44/12 / 1000 (GJ per TJ), the combustion formula whose rounded result the
    factor tables print. The accounts, the library's check of those tables and the projects'
    methods compute it here, so that they cannot drift apart."""
    return Fraction(ncv) * Fraction(carbon_content) * Fraction(oxidation) * CO2_PER_C / 1000


def fuel_tco2_per_unit(
    ncv: Decimal, ncv_unit: str, carbon_content: Decimal, oxidation: Decimal
) -> Fraction:
    """tCO2 per activity unit a meter counts (t, Nm3) of a fuel whose NCV is per ``ncv_unit``
    (one of :data:`NCV_PER_UNIT`), exactly (:func:`fuel_tco2_per_ncv_unit`)."""
    return fuel_tco2_per_ncv_unit(ncv, carbon_content, oxidation) / NCV_PER_UNIT[ncv_unit]
