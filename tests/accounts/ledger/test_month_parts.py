"""A multi-month line's month parts: each month's own rollups, emissions where the line has them."""

from __future__ import annotations

from decimal import Decimal

from accounts.ledger import Account, Derivation, Period
from accounts.ledger._compute import compute_account
from accounts.ledger._inputs import AccountInputs
from accounts.ledger._render import render_derivation
from accounts.ledger._store import _same
from tests.accounts.ledger.helpers import PARTS, enterprise, library, local, month_activity

NOW = local("2026-11-05 10:00")
YEAR = Period.parse("2026", NOW)


def _two_months() -> Account:
    september = [(local("2026-09-10 12:00"), "300"), (local("2026-09-11 12:00"), "100")]
    inputs = AccountInputs(
        enterprise=enterprise(PARTS),
        activity=(
            month_activity("prt-el1", "energy_import", [(local("2026-09-02 10:00"), "2000")]),
            month_activity("prt-pv1", "energy_generated", september),
            # an October with nothing generated: one bucket of 0
            month_activity("prt-pv1", "energy_generated", [(local("2026-10-01 00:00"), "0")]),
        ),
    )
    return compute_account(inputs, YEAR, library(), as_of=NOW)


def _pv(account: Account):  # type: ignore[no-untyped-def]
    return next(line for line in account.lines if line.meter_id == "prt-pv1")


def test_each_month_part_has_its_own_buckets_and_covered_time() -> None:
    pv = _pv(_two_months())
    assert (pv.buckets, pv.covered_ms) == (3, 2_700_000)
    parts = {f"{p.month:%Y-%m}": (p.activity, p.buckets, p.covered_ms) for p in pv.months}
    assert parts == {
        "2026-09": (Decimal(400), 2, 1_800_000),
        "2026-10": (Decimal(0), 1, 900_000),
    }


def test_own_generation_month_parts_keep_avoided_tco2_where_the_line_does() -> None:
    pv = _pv(_two_months())
    # 400 kWh x 0.4974 / 1000 = 0.19896 t avoided in September, not an emission
    assert pv.tco2 is None and pv.tco2_avoided == Decimal("0.19896")
    assert [(p.tco2, p.tco2_avoided) for p in pv.months] == [
        (None, Decimal("0.19896")),
        (None, Decimal(0)),
    ]


def test_explain_prints_each_month_its_own_figures() -> None:
    account = _two_months()
    text = render_derivation(
        Derivation(account=account, readings=[], totals=[], intensities=[], grading=[], industry=[])
    )
    rows = [line.split() for line in text.splitlines() if line.strip().startswith("prt-pv1")]
    months = [row[2:5] for row in rows if row[1] == "energy_generated" and row[2][:2] == "20"]
    assert months == [["2026-09", "2", "0.50"], ["2026-10", "1", "0.25"]]
    assert "2026-09: 400.000 kWh x grid.zhejiang.2023@1 -> 0.199 tCO2 avoided" in text


def test_a_closed_account_stored_before_the_month_figures_equals_its_recomputation() -> None:
    new = _two_months()
    old = new.model_copy(deep=True)
    for line in old.lines:
        line.months = [
            part.model_copy(
                update={
                    "tco2": part.tco2 if part.tco2_avoided is None else part.tco2_avoided,
                    "tco2_avoided": None,
                    "buckets": None,
                    "covered_ms": None,
                }
            )
            for part in line.months
        ]
    assert _same(Account.model_validate(old.model_dump(mode="json")), new)
    changed = new.model_copy(deep=True)
    changed.lines[0].months[0].activity += 1
    assert not _same(new, changed)
