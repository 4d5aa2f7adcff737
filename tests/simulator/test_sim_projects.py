"""``simulate projects``: the demo's rooftop PV plant, boiler retrofit and small hydro station
declared, screened and admitted on the simulated city's own figures; the demo bank's loans
imported through finance; the per-loan disclosure lists the three; idempotent."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction

import psycopg

from accounts.api import Scope, grant_consent
from accounts.ledger import Period
from carbonledger.tz import SHANGHAI
from projects import Stage, disclosure, read_projects, reductions
from simulator.city import RETROFIT_FROM, build_city
from simulator.expected import expected_consumption
from simulator.history import series_of, write_city_history
from simulator.projects import boiler_meter, hydro_meter, register_projects
from simulator.registry import register_city

NOW = datetime(2026, 12, 4, tzinfo=SHANGHAI)  # the demo's fast-forward would start here
CITY = build_city(20, seed=11)
ZHEJIANG = Fraction("0.4974")  # tCO2/MWh, the latest Zhejiang factor published by 2026-12


def _ids(conn: psycopg.Connection) -> dict[str, str]:
    return {p.id.split("-")[0]: p.id for p in read_projects(conn)}


def _boiler_id() -> str:
    meter = boiler_meter(CITY)
    assert meter is not None
    return f"boiler-{meter.enterprise_code[-6:]}"


def _registered(db_url: str) -> list[str]:
    with psycopg.connect(db_url, autocommit=True) as conn:
        register_city(conn, CITY)
        conn.execute("INSERT INTO banks (id, name) VALUES ('demo-bank', '演示银行')")
        return register_projects(conn, CITY, "demo-bank", NOW)


def test_demo_projects_and_loans(db_url: str) -> None:
    said = _registered(db_url)
    with psycopg.connect(db_url, autocommit=True) as conn:
        stages = {kind: p.stage for kind, p in zip(_ids(conn), read_projects(conn), strict=True)}
        assert stages == {"pv": Stage.ADMITTED, "boiler": Stage.ADMITTED, "hydro": Stage.ADMITTED}
        loans = conn.execute("SELECT loan_id, project_id FROM loans ORDER BY loan_id").fetchall()
        assert len(loans) == 3 and all(p is not None for _, p in loans)
        shown = said[said.index("measured reduction, month to date:") + 1 :]
        assert sorted(line.split()[0].split("-")[0] for line in shown) == ["boiler", "hydro", "pv"]
        again = register_projects(conn, CITY, "demo-bank", NOW)
        kept = [line for line in again if line.startswith(("project", "loan"))]
        assert len(kept) == 6, again
        assert all("unchanged" in line or "in the library" in line for line in kept), again
        assert conn.execute("SELECT count(*) FROM loans").fetchone() == (3,)


def test_boiler_baseline_passes_ashrae_14_on_the_simulated_year(db_url: str) -> None:
    """2025's monthly gas (written directly) regressed on the owner's reported output passes
    the monthly thresholds with room, not perfectly; each baseline month is what the meter
    counted (the profile), and screening logged the same figures."""
    said = _registered(db_url)
    meter = boiler_meter(CITY)
    assert meter is not None and meter.retrofit_from == RETROFIT_FROM
    with psycopg.connect(db_url, autocommit=True) as conn:
        found = reductions(conn, _ids(conn)["boiler"], Period.parse("2026-12", NOW), NOW)
    base = found.baseline
    assert base is not None and base.accepted and base.failures == ()
    assert base.months[0] == date(2025, 1, 1) and len(base.months) == 12
    assert base.r2 is not None and round(float(base.r2), 4) == 0.8982  # >= 0.75
    assert round(float(base.cv_rmse), 4) == 0.0252  # <= 0.15
    assert base.nmbe == 0  # OLS with an intercept
    assert round(float(base.slope), 2) == 56.31  # Nm3 per t: 60 x (1 - standby) and weather
    for month in (1, 7, 12):
        lo = datetime(2025, month, 1, tzinfo=SHANGHAI)
        hi = datetime(2025 + month // 12, month % 12 + 1, 1, tzinfo=SHANGHAI)
        assert base.energy[month - 1] == Fraction(expected_consumption(CITY, lo, hi)[meter.id])
    shown = f"  {_boiler_id()} baseline: R² 0.8982, CV(RMSE) 0.0252, NMBE 0.0000"
    assert shown in said, said


def test_boiler_saving_grows_with_the_day(db_url: str) -> None:
    """December to date: adjusted baseline - metered, x the gas factor, about 0.18 / 0.82 of
    the gas burnt; a day more of gas and of reported output (the demo re-runs ``simulate
    projects`` every minute) and the saving is larger."""
    _registered(db_url)
    meter = boiler_meter(CITY)
    assert meter is not None
    later = NOW + timedelta(days=1)
    with psycopg.connect(db_url, autocommit=True) as conn:
        pid = _ids(conn)["boiler"]
        before = reductions(conn, pid, Period.parse("mtd", NOW), NOW).months[-1]
        mine = [s for s in series_of(CITY) if s.meter_id == meter.id]
        write_city_history(conn, CITY, NOW.date(), later.date(), series=mine)
        register_projects(conn, CITY, "demo-bank", later)
        after = reductions(conn, pid, Period.parse("mtd", later), later).months[-1]
    assert before.reduction is not None and after.reduction is not None
    assert round(float(before.reduction), 4) == 2.7154
    assert round(float(after.reduction), 4) == 3.8062
    lines = {line.name: line.value for line in after.lines}
    saving, metered = lines["saving"], lines["reporting period"]
    assert metered == Fraction(
        expected_consumption(CITY, datetime(2026, 12, 1, tzinfo=SHANGHAI), later)[meter.id]
    )
    assert 0.15 < saving / metered < 0.30  # the retrofit's 18 % of the unretrofitted gas


def test_hydro_reduction_is_net_generation_times_the_grid_factor(db_url: str) -> None:
    """December 1-3 of the station (its month so far, written directly): 33,510 kWh
    = 33.51 MWh x 0.4974 = 16.667874 tCO2."""
    _registered(db_url)
    meter = hydro_meter(CITY)
    assert meter is not None
    generated = expected_consumption(CITY, datetime(2026, 12, 1, tzinfo=SHANGHAI), NOW)[meter.id]
    assert generated == 33_510
    with psycopg.connect(db_url, autocommit=True) as conn:
        found = reductions(conn, _ids(conn)["hydro"], Period.parse("mtd", NOW), NOW)
    month = found.months[-1]
    assert month.reduction == Fraction(generated) / 1000 * ZHEJIANG == Fraction("16.667874")


def test_the_facility_disclosure_lists_the_three_loans(db_url: str) -> None:
    """With their owners' consent (the demo grants it), the three loans, 60 % each."""
    _registered(db_url)
    asyncio.run(_consent(db_url))
    with psycopg.connect(db_url, autocommit=True) as conn:
        table = disclosure(conn, "demo-bank", 2026, NOW)
    assert table.withheld == 0
    kinds = sorted(line.loan["loan_id"].split("-")[1] for line in table.lines)
    assert kinds == ["boiler", "hydro", "pv"]
    assert all(line.share == Fraction(3, 5) for line in table.lines)
    hydro = next(line for line in table.lines if "hydro" in line.loan["loan_id"])
    assert hydro.attributed == Fraction("16.667874") * Fraction(3, 5)


async def _consent(url: str) -> None:
    with psycopg.connect(url) as conn:
        owners = sorted({p.owner_code for p in read_projects(conn)})
    until = datetime.now(UTC) + timedelta(days=30)
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        for owner in owners:
            await grant_consent(conn, owner, "demo-bank", [Scope.ACCOUNT], until, by="demo")
