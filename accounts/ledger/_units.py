"""Unit conversions the library and the policy share (pure: the ledger's compute imports it)."""

from __future__ import annotations

from fractions import Fraction

# GJ per NCV-unit quantity -> per activity unit, and tce/kgce units -> tce per activity unit
NCV_PER_UNIT = {"GJ/t": 1, "GJ/10^4Nm3": 10_000}
TCE_PER_UNIT = {"kgce/kWh": 1_000, "kgce/Nm3": 1_000, "kgce/kg": 1, "tce/GJ": 1}
CO2_PER_C = Fraction(44, 12)
GJ_PER_TCE = Fraction("29.307")  # 1 kgce = 29,307 kJ (GB/T 2589-2020)
