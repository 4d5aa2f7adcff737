"""dec() (one module-level Decimal context) gives exactly what its definition gives."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from accounts.ledger._model import dec, dec_reference

_NUMERATORS = st.integers(min_value=-(10**45), max_value=10**45)
_DENOMINATORS = st.one_of(
    st.integers(min_value=1, max_value=10**45),
    st.integers(min_value=0, max_value=75).map(lambda k: 10**k),
    st.integers(min_value=0, max_value=40).map(lambda k: 3 * 7 * 29_307 * 10**k),
)


@given(_NUMERATORS, _DENOMINATORS)
def test_dec_is_the_reference_rounding(numerator: int, denominator: int) -> None:
    value = Fraction(numerator, denominator)
    assert str(dec(value)) == str(dec_reference(value))


def test_ties_negative_zero_and_integers() -> None:
    for value in (
        Fraction(5, 10**13),  # a tie: half-even to 0
        Fraction(15, 10**13),  # a tie: to 0.000000000002
        Fraction(-1, 3 * 10**13),  # rounds to -0, shown as JSON has always shown it
        Fraction(10**6),
        Fraction(-25, 10),
        # beyond 60 significant digits the quotient is rounded first (double rounding, kept)
        Fraction(10**61 * 10 + 5, 10**62),
    ):
        assert str(dec(value)) == str(dec_reference(value))
    assert dec(None) is None
    assert str(dec(Fraction(-1, 3 * 10**13))) == "-0"
