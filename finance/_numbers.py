"""Rounding once: exact rationals as Decimals (12 places, like the ledger) and as fixed point.

A book sums up to hundreds of thousands of loans whose exact figures have unrelated
denominators (each borrower's balance sheet), and an exact rational sum of those grows without
bound. Each loan's figure is therefore rounded once, half-even, to an integer count of
10⁻¹⁸ tCO2 (:data:`SCALE`), and the book sums those integers: exact, order-independent, and
within 0.5·10⁻¹⁸ tCO2 per loan of the rational sum (5·10⁻¹⁴ for 100,000 loans, far below the
12th decimal any figure shows).
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

PLACES = 12
SCALE = 10**18
_SHOW = 10**PLACES


def round_half_even(value: Fraction, scale: int) -> int:
    """``value`` x ``scale`` rounded half-even to an integer."""
    quotient, remainder = divmod(value.numerator * scale, value.denominator)
    twice = 2 * remainder
    if twice > value.denominator or (twice == value.denominator and quotient % 2):
        quotient += 1
    return quotient


def fixed(value: Fraction) -> int:
    """``value`` as an integer count of 10⁻¹⁸ (rounded once, half-even)."""
    return round_half_even(value, SCALE)


def dec(value: Fraction | int | None) -> Decimal | None:
    """``value`` rounded half-even to :data:`PLACES` decimals, trailing zeros dropped."""
    if value is None:
        return None
    out = Decimal(round_half_even(Fraction(value), _SHOW)).scaleb(-PLACES).normalize()
    exponent = out.as_tuple().exponent
    return out.quantize(Decimal(1)) if isinstance(exponent, int) and exponent > 0 else out


def exact_dec(value: Fraction | int) -> Decimal:
    """:func:`dec` of a value that is never None."""
    out = dec(value)
    assert out is not None  # noqa: S101 - dec returns None only for None
    return out
