"""The fuel-combustion formula, once for the accounts, the library's check and the projects."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from accounts.ledger import fuel_tco2_per_unit
from accounts.ledger._units import fuel_tco2_per_ncv_unit


def test_per_ncv_unit_is_the_exact_product() -> None:
    # diesel, GB/T 32150 defaults: 42.652 GJ/t x 20.2 tC/TJ x 0.98 x 44/12 / 1000
    exact = Fraction("42.652") * Fraction("20.2") * Fraction("0.98") * Fraction(44, 12) / 1000
    value = fuel_tco2_per_ncv_unit(Decimal("42.652"), Decimal("20.2"), Decimal("0.98"))
    assert value == exact
    assert value.denominator != 1 and round(float(value), 10) == 3.0959096373


def test_per_unit_divides_out_the_ncv_unit() -> None:
    args = (Decimal("389.31"), Decimal("15.3"), Decimal("0.99"))
    per_10k_nm3 = fuel_tco2_per_ncv_unit(*args)
    per_nm3 = fuel_tco2_per_unit(args[0], "GJ/10^4Nm3", args[1], args[2])
    assert per_nm3 == per_10k_nm3 / 10_000
    assert fuel_tco2_per_unit(args[0], "GJ/t", args[1], args[2]) == per_10k_nm3
