"""Figures divided again (intensities, L, industry L, K) come from exact values, rounded once."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction

from accounts.ledger import Account
from accounts.ledger._compute import compute_account
from accounts.ledger._grading import band_set, grade
from accounts.ledger._inputs import AccountInputs, EconomicRow
from accounts.ledger._store import _standing
from tests.accounts.ledger.helpers import CEMENT, enterprise, library, local, month_activity
from tests.accounts.ledger.test_reference_accounts import NOW, OCT

# 1 t diesel: 42.652 GJ/t x 20.2 tC/TJ / 1000 x 0.98 x 44/12 = 3.0959096373333... t (rounded
# 3.095909637333); divided by a small figure, the rounding of the total would show.
DIESEL_TCO2 = Fraction("42.652") * Fraction("20.2") / 1000 * Fraction("0.98") * 44 / 12


def _account(value_added: str, output: str) -> Account:
    inputs = AccountInputs(
        enterprise=enterprise(CEMENT),
        activity=(month_activity("cem-dsl1", "diesel_mass", [(local("2026-10-03 00:00"), "1")]),),
        economics=(
            EconomicRow(
                "month", date(2026, 10, 1), Decimal(value_added), None, Decimal(output), "t"
            ),
        ),
    )
    return compute_account(inputs, OCT, library(), as_of=NOW)


def test_intensities_divide_the_exact_total() -> None:
    a = _account("0.01", "0.03")
    assert a.totals.total == Decimal("3.095909637333")
    # 3.0959096373333... / 0.01 = 309.59096373333...; the rounded total gave 309.5909637333
    assert a.intensity.per_value_added == Decimal("309.590963733333")
    # / 0.03 t = 103.196987911111...; the rounded total gave 103.1969879111
    assert a.intensity.per_output == Decimal("103.196987911111")


def test_grading_takes_the_exact_total_even_from_a_stored_account() -> None:
    a = _account("0.01", "1")
    stored = Account.model_validate(a.model_dump(mode="json"))
    standing = _standing(stored)
    assert standing.tco2 == DIESEL_TCO2 and standing.value_added == Fraction(1, 100)
    [record] = grade(
        [standing],
        period_kind="month",
        period_start=OCT.start,
        live=False,
        bands=band_set("huzhou-2021"),
    )
    assert record.l_value == Decimal("309.590963733333") == record.industry_l
    assert record.k_value == Decimal(1)
