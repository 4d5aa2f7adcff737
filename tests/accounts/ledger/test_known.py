"""The live accounts from kept past months (accounts.ledger._known) are the accounts computed
from every month's rows: a cycle adds the current month to what earlier cycles kept."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction

from accounts.ledger._compute import compute_account, select_all
from accounts.ledger._inputs import AccountInputs, EconomicRow, MonthActivity
from accounts.ledger._known import KnownMonths
from accounts.ledger._model import Account, dec_reference
from accounts.ledger._store import live_periods
from tests.accounts.ledger.helpers import (
    DYEING,
    economic_row,
    enterprise,
    library,
    local,
    month_activity,
)

_METERS = (
    ("dye-el1", "energy_import"),
    ("dye-gas1", "gas_volume"),
    ("dye-dsl1", "diesel_mass"),
    ("dye-stm1", "steam_mass"),
)
_ECONOMICS = (
    EconomicRow("year", date(2025, 1, 1), Decimal("1200.5"), Decimal("3000"), None, None),
    *(economic_row(f"2026-{m:02d}-01", "97.3", None if m == 4 else "251") for m in range(1, 12)),
)


def _past() -> list[MonthActivity]:
    """December 2025 to October 2026, a month without diesel, a third of a unit here and there."""
    return [
        month_activity(meter, quantity, [(local(f"{y}-{m:02d}-03 10:00"), f"{m * 7 + k}.3333")])
        for y, m in [(2025, 12), *((2026, m) for m in range(1, 11))]
        for k, (meter, quantity) in enumerate(_METERS)
        if not (meter == "dye-dsl1" and m == 6)
    ]


def _current(now: datetime, amount: str) -> list[MonthActivity]:
    return [
        month_activity(meter, quantity, [(local("2026-11-02 00:00"), amount), (now, "1.5")])
        for meter, quantity in _METERS[:3]
    ]


def _accounts(
    activity: list[MonthActivity], now: datetime, known: KnownMonths | None
) -> list[Account]:
    """The three live accounts, as the live refresh computes them."""
    lib = library()
    who = enterprise(DYEING)
    selections = select_all(lib, who, (), activity, now.date())
    out = []
    for period in live_periods(now):
        months = set(period.months())
        inputs = AccountInputs(
            enterprise=who,
            activity=tuple(a for a in activity if a.month in months),
            economics=_ECONOMICS,
        )
        out.append(
            compute_account(
                inputs,
                period,
                lib,
                as_of=now,
                selections=selections,
                parts={},
                known=None if known is None else known.of(DYEING),
            )
        )
    return out


def _same(activity: list[MonthActivity], now: datetime, known: KnownMonths) -> None:
    kept = [a.model_dump(mode="json") for a in _accounts(activity, now, known)]
    assert kept == [a.model_dump(mode="json") for a in _accounts(activity, now, None)]


def test_cycles_add_the_current_month_to_the_kept_past_months() -> None:
    known, past = KnownMonths(), _past()
    for minute, amount in enumerate(["10", "12.25", "0", "19.1"]):
        now = local(f"2026-11-20 10:{minute * 5:02d}")
        known.remember(DYEING, past)
        _same(past + _current(now, amount), now, known)
    entry = known.of(DYEING)
    assert entry is not None and entry.rows is past and len(entry.lines) == 3
    assert len(entry.parts) == len(past)  # each past month's part computed once


def test_a_new_cache_of_the_past_months_starts_over() -> None:
    known, past = KnownMonths(), _past()
    now = local("2026-11-20 10:00")
    known.remember(DYEING, past)
    _same(past + _current(now, "10"), now, known)
    first = known.of(DYEING)
    changed = [*past[:-1], month_activity("dye-stm1", "steam_mass", [(local("2026-10-09"), "1")])]
    known.remember(DYEING, changed)
    assert known.of(DYEING) is not first
    _same(changed + _current(now, "10"), now, known)


def test_rows_other_than_the_kept_ones_are_computed_in_full() -> None:
    known, past = KnownMonths(), _past()
    now = local("2026-11-20 10:00")
    known.remember(DYEING, past)
    _same(past + _current(now, "10"), now, known)
    # a caller passing some of the kept rows only (not what they were kept for)
    _same(past[4:] + _current(now, "10"), now, known)


def test_the_month_in_progress_counts_for_its_elapsed_share() -> None:
    now = local("2026-11-20 10:00")
    known = KnownMonths()
    known.remember(DYEING, _past())
    mtd, rolling, _ = _accounts(_past() + _current(now, "10"), now, known)
    share = Fraction(19 * 86_400 + 10 * 3600, 30 * 86_400)  # 1 November 00:00 to now
    assert mtd.economics.value_added.basis == "estimated: reported x 0.647 of the month elapsed"
    assert mtd.economics.value_added.value == dec_reference(Fraction("97.3") * share)
    # December 2025 from the year's figure, the months of 2026 reported, November in part
    twelfth = Fraction("1200.5") / 12
    assert rolling.exact is not None
    assert rolling.exact.value_added == str(twelfth + Fraction("97.3") * (10 + share))
    # April without revenue: the previous year's figure / 12, as December's
    assert rolling.economics.revenue.basis == (
        "estimated: 2025 annual / 12; reported; reported x 0.647 of the month elapsed"
    )
