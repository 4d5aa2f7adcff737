"""Rounding once: an exact rational shown as a Decimal, as the ledger does (12 places)."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from fractions import Fraction

PLACES = 12


def dec(value: Fraction | int | None) -> Decimal | None:
    """``value`` rounded half-even to :data:`PLACES` decimals, trailing zeros dropped."""
    if value is None:
        return None
    value = Fraction(value)
    with localcontext() as ctx:
        ctx.prec = 80
        quotient = Decimal(value.numerator) / Decimal(value.denominator)
        rounded = quotient.quantize(Decimal(1).scaleb(-PLACES), rounding=ROUND_HALF_EVEN)
        out = rounded.normalize()
        exponent = out.as_tuple().exponent
        return out.quantize(Decimal(1)) if isinstance(exponent, int) and exponent > 0 else out


def exact_dec(value: Fraction | int) -> Decimal:
    """:func:`dec` of a value that is never None."""
    out = dec(value)
    assert out is not None  # noqa: S101 - dec returns None only for None
    return out
