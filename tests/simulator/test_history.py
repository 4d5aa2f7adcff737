"""``simulate history``: the city's rollups written directly equal what its meters count."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import psycopg
import pytest

from accounts.ledger import Period, get_account, load_factors, refresh_live
from analytics.history import HistoryError, Series, write_history
from carbonledger.tz import SHANGHAI
from simulator.city import build_city
from simulator.expected import expected_consumption
from simulator.history import series_of, write_city_history
from simulator.registry import register_city, register_economics

FIRST, END = date(2026, 3, 2), date(2026, 3, 4)


def test_rows_cover_every_series_and_bucket_and_rerun_replaces_them(db_url: str) -> None:
    city = build_city(3, seed=7)
    with psycopg.connect(db_url) as conn:
        register_city(conn, city)
        report = write_city_history(conn, city, FIRST, END)
        again = write_city_history(conn, city, FIRST, END)
        count, series, buckets, lo, hi = conn.execute(
            "SELECT count(*), count(DISTINCT (meter_id, quantity)), count(DISTINCT bucket),"
            " min(bucket), max(bucket) FROM rollups_15m"
        ).fetchone()  # type: ignore[misc]
        frontiers = conn.execute("SELECT count(*), min(time) FROM rollup_frontiers").fetchone()
    assert report.rows == again.rows == count == len(city.meters) * 2 * 96
    assert series == len(city.meters) and buckets == 2 * 96
    assert lo == datetime(2026, 3, 2, tzinfo=SHANGHAI)
    assert hi == datetime(2026, 3, 3, 23, 45, tzinfo=SHANGHAI)
    assert frontiers == (
        sum(1 for m in city.meters if m.cumulative),
        datetime(2026, 3, 4, tzinfo=SHANGHAI),
    )


def test_hourly_sums_equal_the_simulators_exact_consumption(db_url: str) -> None:
    city = build_city(3, seed=7)
    start = datetime(2026, 3, 2, 9, tzinfo=SHANGHAI)
    end = datetime(2026, 3, 3, 17, tzinfo=SHANGHAI)
    expected = expected_consumption(city, start, end)
    with psycopg.connect(db_url) as conn:
        register_city(conn, city)
        write_city_history(conn, city, FIRST, END)
        booked = dict(
            conn.execute(
                "SELECT meter_id, sum(activity_fp) FROM rollups_15m"
                " WHERE bucket >= %s AND bucket < %s AND quantity <> 'co2_mass' GROUP BY meter_id",
                (start, end),
            ).fetchall()
        )
    assert booked and set(booked) == set(expected)
    for meter_id, consumption in expected.items():
        assert Decimal(booked[meter_id]).scaleb(-4) == consumption, meter_id


def test_a_stack_books_its_drivers_fuel_times_its_co2_factor(db_url: str) -> None:
    city = build_city(40, seed=7)
    stacks = [m for m in city.meters if m.stack is not None]
    assert stacks, "the city should have a CEMS stack"
    stack = stacks[0]
    assert stack.stack is not None
    driver = next(m for m in city.meters if m.id == stack.stack.driver)
    chosen = [s for s in series_of(city) if s.meter_id in (stack.id, driver.id)]
    with psycopg.connect(db_url) as conn:
        register_city(conn, city)
        write_city_history(conn, city, FIRST, END, series=chosen)
        sums = dict(
            conn.execute(
                "SELECT quantity, sum(activity_fp) FROM rollups_15m GROUP BY quantity"
            ).fetchall()
        )
    fuel = Decimal(sums[driver.quantity]).scaleb(-4)  # primary units
    co2_t = Decimal(sums["co2_mass"]).scaleb(-6)
    assert co2_t == pytest.approx(
        fuel * Decimal(stack.stack.co2_per_unit) / 1000, rel=Decimal("1e-6")
    )


def test_a_profile_of_the_wrong_length_is_refused(db_url: str) -> None:
    with psycopg.connect(db_url) as conn, pytest.raises(HistoryError, match="96"):
        write_history(conn, [Series("m", "e" * 18, "energy_import")], FIRST, END,
                      lambda s, d: [1] * 95)  # fmt: skip


def test_the_ledger_computes_an_account_from_the_written_history(db_url: str) -> None:
    city = build_city(3, seed=7)
    now = datetime(2026, 3, 4, 0, 0, tzinfo=SHANGHAI)
    with psycopg.connect(db_url) as conn:
        load_factors(conn)
        register_city(conn, city)
        register_economics(conn, city, now.date())
        write_city_history(conn, city, date(2026, 3, 1), now.date())
        conn.commit()
        conn.autocommit = True
        refresh_live(conn, now=now)
        code = city.enterprises[0].code
        account = get_account(conn, code, Period.mtd(now))
        electricity = conn.execute(
            "SELECT sum(activity_fp) FROM rollups_15m r JOIN meters m ON m.id = r.meter_id"
            " WHERE r.enterprise_code = %s AND m.carrier = 'electricity'",
            (code,),
        ).fetchone()
    assert account is not None
    assert account.totals.total > 0
    assert electricity is not None and electricity[0] > 0
    assert account.totals.scope2 > 0  # purchased electricity booked from the written rollups


def test_simulate_history_writes_the_days_before_to_with_progress(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from launcher.cli import main  # noqa: PLC0415 - the command line as a user runs it

    monkeypatch.setenv("DATABASE_URL", db_url)
    flags = ["--enterprises", "2", "--seed", "7", "--region", "zhejiang"]
    assert main(["simulate", "register", *flags]) == 0
    assert main(["simulate", "history", *flags, "--days", "2", "--to", "2026-03-04"]) == 0
    out = capsys.readouterr().out
    assert "history: 2026-03-02 written (1/2 days)" in out
    assert "history: 2026-03-03 written (2/2 days)" in out
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT count(*), min(bucket), max(bucket) FROM rollups_15m").fetchone()
        meters = conn.execute("SELECT count(*) FROM meters").fetchone()
    assert row is not None and meters is not None
    assert row == (meters[0] * 2 * 96, datetime(2026, 3, 2, tzinfo=SHANGHAI),
                   datetime(2026, 3, 3, 23, 45, tzinfo=SHANGHAI))  # fmt: skip
