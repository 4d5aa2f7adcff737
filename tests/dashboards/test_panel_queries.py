"""Every panel's SQL against the real database, filled the way production fills it.

A small simulated city (4 enterprises, 3 hours ending now, two meters silenced) is published over
MQTT to the real broker, stored by the real ingest service and rolled up by the real aggregator;
one poison message and one message with an unknown meter go to dead letters. Then each panel's
query is expanded as Grafana's PostgreSQL data source expands it (tests/dashboards/grafana_macros)
and run; its rows must have the shape the panel needs. A few panels are checked against figures
computed here from what was published.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import psycopg
import pytest
from psycopg import sql

from accounts.ledger import refresh_live
from carbonledger import wire
from carbonledger.config import AccountsSettings
from dashboards import DASHBOARDS, Dashboard, Format, Kind, Panel, QueryVariable, TextVariable
from projects import refresh as refresh_projects
from simulator import OutgoingBatch, Simulation, build_city
from simulator.projects import register_projects
from simulator.registry import register_city
from tests.analytics.test_streaming import RunningAggregator, caught_up
from tests.dashboards.grafana_macros import Request, expand
from tests.helpers import Publisher, RunningIngest, clone_database, make_settings, wait_for

SHANGHAI = ZoneInfo("Asia/Shanghai")
HOURS = 3
OFFLINE_MINUTES = 15


@dataclass(frozen=True)
class Scene:
    url: str
    start: datetime
    end: datetime
    enterprise: str  # the drill-down's enterprise: one with a CEMS stack
    last_reading: dict[str, datetime]  # meter -> newest published reading of its booked quantity
    booked: dict[str, str]  # meter -> booked quantity
    timescaledb: bool  # the storage path, and so how Grafana (TimescaleDB flag on) expands


@pytest.fixture(
    scope="module", params=["plain", pytest.param("timescaledb", marks=pytest.mark.timescaledb)]
)
def scene(request: pytest.FixtureRequest) -> Iterator[Scene]:
    timescaledb = request.param == "timescaledb"
    databases = clone_database(
        request.getfixturevalue("timescale_template" if timescaledb else "plain_template")
    )
    url = next(databases)
    city = build_city(4, 11)
    with psycopg.connect(url) as conn:
        register_city(conn, city)
    end = datetime.now(UTC).replace(microsecond=0)
    edge = end.replace(minute=end.minute - end.minute % 15, second=0)
    start = edge - timedelta(hours=HOURS)  # on a bucket edge: the range holds whole buckets
    cems = next(m.enterprise_code for m in city.meters if m.carrier == "flue_gas")
    gap = next(m.id for m in city.meters if m.enterprise_code == cems and m.carrier != "flue_gas")
    silent = next(m.id for m in city.meters if m.enterprise_code != cems)
    sim = Simulation(city, start)
    batches = _outages(
        [b for tick in sim.run(end) for b in tick] + sim.drain(),
        # an outage in the middle (an offline event) and a meter silent for the last 30 minutes
        {gap: (start + timedelta(minutes=60), start + timedelta(minutes=90)),
         silent: (end - timedelta(minutes=30), end + timedelta(minutes=1))},
    )  # fmt: skip
    booked = {m.id: m.quantity for m in city.meters}
    last: dict[str, datetime] = {}
    for batch in batches:
        for r in batch.readings:
            if booked.get(r.meter) == r.quantity:
                last[r.meter] = max(last.get(r.meter, r.time), r.time)
    root = f"cltest-dash-{uuid.uuid4().hex[:8]}"
    settings = make_settings(url, root)
    publisher = Publisher()
    gateway = city.gateways[0]
    topic = wire.readings_topic(gateway.enterprise_code, gateway.id, root)
    seen: set[tuple[str, str, datetime]] = set()
    with RunningAggregator(url), RunningIngest(settings):
        # in steps the broker can queue (Mosquitto keeps 1,000 messages per client by default)
        for at in range(0, len(batches), 400):
            for batch in batches[at : at + 400]:
                publisher.publish(
                    wire.readings_topic(batch.enterprise, batch.gateway, root),
                    wire.encode(batch.seq, batch.readings, batch.sent_at),
                )
                seen |= {(r.meter, r.quantity, r.time) for r in batch.readings}
            stored = len(seen)
            assert wait_for(lambda n=stored: _count(url, "SELECT count(*) FROM readings") >= n, 60)
        publisher.publish(topic, b"not json")  # a whole message unusable
        stray = wire.Reading("m-unknown", "energy_import", end, 1.0)
        publisher.publish(topic, wire.encode(1, [stray], end))  # a meter nobody registered
        publisher.close()
        assert wait_for(lambda: _count(url, "SELECT count(*) FROM dead_letters") == 2, 30)
        assert wait_for(lambda: caught_up(url), 30)
    with psycopg.connect(url, autocommit=True) as conn:
        this_month = end.astimezone(SHANGHAI).date().replace(day=1)
        months = [this_month]
        while len(months) < 13:  # this month and the 12 before: rolling 12 months are graded
            months.append((months[-1] - timedelta(days=1)).replace(day=1))
        for index, enterprise in enumerate(city.enterprises):
            for month in months:
                conn.execute(
                    "INSERT INTO economic_data (enterprise_code, period_kind, period_start,"
                    " value_added) VALUES (%s, 'month', %s, %s)",
                    (enterprise.code, month, 100 * (index + 1)),
                )
        # a tiny 两高 threshold, so the energy-intensive enterprise (division 30) is flagged
        refresh_live(conn, AccountsSettings(two_high_tce=Decimal("0.001")), now=end)
        # the project library (its PV plant admitted, a retrofit declared, a bank's loans)
        conn.execute("INSERT INTO banks (id, name) VALUES ('demo-bank', '演示银行')")
        register_projects(conn, city, "demo-bank", end.astimezone(SHANGHAI))
        refresh_projects(conn, end)
    yield Scene(url, start, end, cems, last, booked, timescaledb)
    next(databases, None)


def _outages(
    batches: list[OutgoingBatch], gaps: dict[str, tuple[datetime, datetime]]
) -> list[OutgoingBatch]:
    """The batches without the readings of each meter in its [from, to) gap."""
    out = []
    for batch in batches:
        kept = tuple(
            r for r in batch.readings
            if not (r.meter in gaps and gaps[r.meter][0] <= r.time < gaps[r.meter][1])
        )  # fmt: skip
        if kept:
            out.append(replace(batch, readings=kept))
    return out


def _count(url: str, query: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(query).fetchone()
        return int(row[0]) if row else 0


def _request(scene: Scene, dashboard: Dashboard, panel: Panel) -> Request:
    with psycopg.connect(scene.url) as conn:
        options = {
            v.name: [str(r[-1]) for r in conn.execute(v.sql).fetchall()]
            for v in dashboard.variables
            if isinstance(v, QueryVariable)
        }
    values: dict[str, str | list[str]] = {}
    for v in dashboard.variables:
        if isinstance(v, TextVariable):
            values[v.name] = v.default
        elif v.multi or v.include_all:
            values[v.name] = options[v.name]  # "All": every option
        else:
            values[v.name] = scene.enterprise if v.name == "enterprise" else options[v.name][0]
    multi = frozenset(v.name for v in dashboard.variables if getattr(v, "multi", False))
    # Grafana's $__interval: the range over the panel's width in points, at least its minimum
    interval = max(timedelta(minutes=1), _parse(panel.min_interval))
    end = scene.end + timedelta(minutes=1)
    return Request(scene.start, end, interval, values, multi, scene.timescaledb)


def _parse(interval: str | None) -> timedelta:
    if interval is None:
        return timedelta(0)
    number, unit = int(interval[:-1]), interval[-1]
    return timedelta(**{{"s": "seconds", "m": "minutes", "h": "hours"}[unit]: number})


def run(scene: Scene, dashboard: Dashboard, panel: Panel) -> tuple[list[str], list[tuple]]:  # type: ignore[type-arg]
    (query,) = panel.queries
    sql = expand(query.sql, _request(scene, dashboard, panel))
    with psycopg.connect(scene.url) as conn:
        cur = conn.execute(sql)  # type: ignore[call-overload]
        assert cur.description is not None
        return [c.name for c in cur.description], cur.fetchall()


# the climate-finance cockpit needs loan books: tests/dashboards/test_finance_panels.py
PANELS = [
    pytest.param(d, p, id=f"{d.uid}:{p.title}")
    for d in DASHBOARDS
    if d.uid != "carbonledger-finance"
    for p in d.panels
]
NUMBER = (int, float, Decimal)


@pytest.mark.parametrize(("dashboard", "panel"), PANELS)
def test_panel_query_returns_rows_of_its_shape(
    scene: Scene, dashboard: Dashboard, panel: Panel
) -> None:
    columns, rows = run(scene, dashboard, panel)
    assert rows, "no rows"
    assert len(set(columns)) == len(columns), columns
    (query,) = panel.queries
    values = [[row[i] for row in rows] for i in range(len(columns))]
    if query.format is Format.TIME_SERIES:
        time = columns.index("time")  # Grafana needs a column named time
        assert all(isinstance(t, datetime | int | float | Decimal) for t in values[time])
        numeric = [i for i in range(len(columns)) if i != time and _numeric(values[i])]
        labels = [i for i in range(len(columns)) if i != time and i not in numeric]
        assert numeric, "no value column"
        assert all(all(isinstance(v, str) for v in values[i]) for i in labels), columns
        times = [float(t.timestamp()) if isinstance(t, datetime) else float(t) for t in values[0]]
        assert times == sorted(times), "time series must be ordered by time"
    elif panel.kind is Kind.STAT:
        numeric = [i for i in range(len(columns)) if _numeric(values[i])]
        assert numeric and len(columns) - len(numeric) <= 1, columns  # values and one label
    elif panel.kind is Kind.BARCHART:
        assert isinstance(rows[0][0], str) and all(_numeric(v) for v in values[1:]), columns


def _numeric(column: list[object]) -> bool:
    present = [v for v in column if v is not None]
    return bool(present) and all(isinstance(v, NUMBER) and not isinstance(v, bool) for v in present)


def _panel(uid: str, title: str) -> tuple[Dashboard, Panel]:
    dashboard = next(d for d in DASHBOARDS if d.uid == uid)
    return dashboard, next(p for p in dashboard.panels if p.title == title)


def test_offline_meters_are_those_silent_at_the_end(scene: Scene) -> None:
    columns, rows = run(scene, *_panel("carbonledger-quality", "Offline meters"))
    cutoff = scene.end + timedelta(minutes=1) - timedelta(minutes=OFFLINE_MINUTES)
    expected = {m for m in scene.booked if scene.last_reading.get(m, cutoff) <= cutoff}
    assert expected  # the meter silenced for the last 30 minutes at least
    assert {r[columns.index("meter")] for r in rows} == expected
    _, (count,) = run(scene, *_panel("carbonledger-quality", "Meters offline"))
    assert count == (len(expected), len(scene.booked))


def test_electricity_today_sums_buckets_of_the_local_day(scene: Scene) -> None:
    _, ((total,),) = run(scene, *_panel("carbonledger-city", "Electricity today"))
    to = scene.end + timedelta(minutes=1)
    local_day = to.astimezone(SHANGHAI).date()
    with psycopg.connect(scene.url) as conn:
        rows = conn.execute(
            "SELECT r.bucket, r.activity_fp FROM rollups_15m r JOIN meters m ON m.id = r.meter_id"
            " AND m.quantity = r.quantity WHERE m.carrier = 'electricity'"
        ).fetchall()
    # activity_fp / 10^4 kWh (rollup_quantities scale 4), buckets of today's local date only
    expected = sum(
        (Decimal(fp).scaleb(-4) for b, fp in rows if b.astimezone(SHANGHAI).date() == local_day
         and b < to),
        Decimal(0),
    )  # fmt: skip
    assert total == expected
    assert rows


def test_dead_letters_count_messages_and_rejected_readings(scene: Scene) -> None:
    columns, rows = run(scene, *_panel("carbonledger-quality", "Dead letters by topic and reason"))
    # "not json": whole message (no readings counted); the stray reading: 1 rejected
    assert sum(r[columns.index("messages")] for r in rows) == 2
    assert sum(r[columns.index("readings rejected")] for r in rows) == 1


def test_ingest_rate_integrates_to_the_readings_stored(scene: Scene) -> None:
    dashboard, panel = _panel("carbonledger-operations", "Ingest rate")
    columns, rows = run(scene, dashboard, panel)
    seconds = _request(scene, dashboard, panel).interval.total_seconds()
    # readings/s x interval seconds, summed over intervals = every reading stored (the rate is a
    # numeric division by 60, exact to its 16 decimals)
    total = sum(r[columns.index("readings/s")] * Decimal(seconds) for r in rows)
    assert round(total, 9) == _count(scene.url, "SELECT count(*) FROM readings")


def test_enterprise_meters_table_lists_the_enterprise_meters(scene: Scene) -> None:
    columns, rows = run(scene, *_panel("carbonledger-enterprise", "Meters"))
    with psycopg.connect(scene.url) as conn:
        ids = conn.execute(
            "SELECT id FROM meters WHERE enterprise_code = %s ORDER BY id", (scene.enterprise,)
        ).fetchall()
    assert [r[columns.index("meter")] for r in rows] == [i for (i,) in ids]
    assert all(0 <= r[columns.index("coverage")] <= 1 for r in rows)


@pytest.mark.skipif(not shutil.which("psql"), reason="psql is not installed")
def test_every_panel_runs_as_the_select_only_grafana_role(scene: Scene) -> None:
    """deploy/db/grafana-reader.sh, run by psql as the db container runs it, grants enough."""
    reader = f"cltest_reader_{uuid.uuid4().hex[:8]}"
    parts = urlsplit(scene.url)
    env = {**os.environ, "POSTGRES_USER": parts.username or "postgres",
           "POSTGRES_DB": parts.path.lstrip("/"), "GRAFANA_DB_PASSWORD": "unused-here",
           "GRAFANA_DB_USER": reader, "PGHOST": parts.hostname or "127.0.0.1",
           "PGPORT": str(parts.port or 5432)}  # fmt: skip
    script = Path(__file__).resolve().parents[2] / "deploy" / "db" / "grafana-reader.sh"
    subprocess.run(["sh", str(script)], env=env, check=True, capture_output=True)
    as_reader = urlunsplit(parts._replace(netloc=f"{reader}@{parts.hostname}:{parts.port}"))
    try:
        with psycopg.connect(scene.url, autocommit=True) as owner:  # created after the grant
            owner.execute("CREATE TABLE later_table (x int)")
        with psycopg.connect(as_reader) as conn:
            for dashboard in DASHBOARDS:
                for panel in dashboard.panels:
                    for query in panel.queries:
                        conn.execute(expand(query.sql, _request(scene, dashboard, panel)))  # type: ignore[arg-type]
            conn.execute("SELECT * FROM later_table")  # the default privileges reach it
            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                conn.execute("INSERT INTO later_table VALUES (1)")
    finally:
        with psycopg.connect(scene.url, autocommit=True) as owner:
            owner.execute("DROP TABLE IF EXISTS later_table")
            owner.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(reader)))
            owner.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(reader)))


def test_top_emitters_agree_with_the_ledger_accounts(scene: Scene) -> None:
    """The cockpit's tCO2 per enterprise is the month-to-date account's total (same factors)."""
    if scene.start.astimezone(SHANGHAI).month != scene.end.astimezone(SHANGHAI).month:
        pytest.skip("the simulated hours cross a local month boundary")
    columns, rows = run(scene, *_panel("carbonledger-city", "Top emitters"))
    with psycopg.connect(scene.url) as conn:
        accounts = dict(
            conn.execute(
                "SELECT enterprise_code, tco2_total FROM account_periods"
                " WHERE period_kind = 'mtd' AND status <> 'superseded'"
            ).fetchall()
        )
    shown = {r[columns.index("code")]: r[columns.index("tCO2")] for r in rows}
    assert shown and all(value > 0 for value in shown.values())
    # the ledger stores totals rounded half-even to 12 decimals; the view sums exact terms
    assert {c: round(v, 12) for c, v in shown.items()} == {c: accounts[c] for c in shown}
    codes = [r[columns.index("grade (rolling 12 months)")] for r in rows]
    assert any(c.endswith("级") for c in codes)
    assert all(c.endswith("级") or c == "not graded" for c in codes), codes


def test_project_library_panels_agree_with_the_projects(scene: Scene) -> None:
    """The scene's library: its PV plant and small hydro station admitted (its four enterprises
    have no retrofitted boiler), a loan of 60 % of each investment; measured = what ``projects
    refresh`` stored."""
    columns, rows = run(scene, *_panel("carbonledger-projects", "Projects by stage"))
    assert dict(zip(columns, rows[0], strict=True)) == {
        "declared": 0, "screened": 0, "in the library": 2, "retired": 0
    }  # fmt: skip
    _, rows = run(scene, *_panel("carbonledger-projects", "Financing received by area"))
    assert all(loans == investment * Decimal("0.6") for _, investment, loans in rows)
    with psycopg.connect(scene.url) as conn:
        stored = conn.execute("SELECT sum(reduction_tco2) FROM project_reductions").fetchone()
    _, ((measured, _expected),) = run(
        scene, *_panel("carbonledger-projects", "Library reductions this year")
    )
    assert stored is not None and measured == stored[0]
