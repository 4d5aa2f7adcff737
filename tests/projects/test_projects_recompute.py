"""Property: a project's reductions do not depend on the order, duplication or batching of
readings, and equal a recompute from raw readings.

Readings of a PV plant's generation meter and its auxiliary supply meter go through the ingest
writer in random order and batches with redeliveries; the rollups are rebuilt from raw readings
(``analytics.recompute``); the reduction must equal the one computed by hand from the raw
registers: (last - first generation - (last - first own use)) kWh / 1000 x 0.4974 tCO2/MWh.
A second property shuffles the inputs of the pure computation and gets the same exact figures.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.ledger import Period
from analytics import recompute
from carbonledger.config import AggregateSettings
from carbonledger.tz import SHANGHAI
from ingest.writer import BatchWriter, Message
from projects._methods import compute
from projects._model import MeterRole, Method, MethodParams
from projects._read import read_inputs, read_project
from projects._rules import rules
from projects.library import Actor, declare
from projects.reductions import reductions
from tests.projects.helpers import OWNER, declaration, inputs, project, register_owner

T0 = datetime(2026, 3, 3, 20, 0, tzinfo=UTC)  # 04:00 +08:00, 2026-03-04
AS_OF = datetime(2026, 12, 4, 12, 0, tzinfo=SHANGHAI)
Reading = tuple[datetime, str, str, float, str, datetime]
QUANTITY = {"pv-1": "energy_generated", "aux-1": "energy_import"}


@st.composite
def registers(draw: st.DrawFn, meter_id: str) -> list[Reading]:
    """A register counting up in 15 s steps, with gaps."""
    cents, t, out = draw(st.integers(0, 10_000_000)), T0, []
    for _ in range(draw(st.integers(2, 25))):
        t += timedelta(seconds=draw(st.sampled_from([15, 15, 15, 45, 400])))
        cents += draw(st.integers(0, 50))
        out.append((t, meter_id, QUANTITY[meter_id], cents / 100, "good", t))
    return out


@st.composite
def arrivals(draw: st.DrawFn) -> tuple[list[Reading], list[list[Reading]]]:
    readings = draw(registers("pv-1")) + draw(registers("aux-1"))
    stream = list(draw(st.permutations(readings))) + draw(
        st.lists(st.sampled_from(readings), max_size=6)
    )
    cuts = sorted(draw(st.lists(st.integers(0, len(stream)), max_size=6)))
    batches = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    return readings, [b for b in batches if b]


@pytest.fixture
def plant(db_url: str) -> Iterator[str]:
    with psycopg.connect(db_url, autocommit=True) as conn:
        register_owner(conn)
        declare(conn, declaration(), Actor("enterprise", "x", OWNER), AS_OF)
    yield db_url


class _Quiet:
    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def _by_hand(readings: list[Reading]) -> Fraction:
    def used(meter: str) -> Fraction:
        mine = sorted(round(r[3] * 100) for r in readings if r[1] == meter)
        return Fraction(mine[-1] - mine[0], 100)

    return (used("pv-1") - used("aux-1")) / 1000 * Fraction("0.4974")


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=arrivals())
def test_any_arrival_order_gives_the_reduction_of_the_raw_readings(plant: str, case: tuple) -> None:  # type: ignore[type-arg]
    readings, batches = case
    with psycopg.connect(plant, autocommit=True) as conn:
        conn.execute("TRUNCATE readings, reading_changes, rollups_15m, quality_events")
    writer = BatchWriter(plant)
    for batch in batches:
        writer.write([Message("t", b"", rows=list(batch), row_indexes=list(range(len(batch))))])
    writer.close()
    day = T0.astimezone(SHANGHAI).date()
    recompute(plant, day, day, AggregateSettings(), progress=_Quiet())
    with psycopg.connect(plant, autocommit=True) as conn:
        found = reductions(conn, "lishui-pv-01", Period.parse("2026-03", AS_OF), AS_OF)
    (month,) = found.months
    assert month.reduction == _by_hand(readings)
    assert found.total == month.reduction


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), values=st.lists(st.integers(0, 10**9), min_size=2))
def test_the_order_of_the_inputs_does_not_change_a_figure(seed: int, values: list[int]) -> None:
    """Fuel switch over many meter-month rows: any order of the rows, the same exact result."""
    months = [date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)]
    params = MethodParams(baseline_from=months[0], baseline_to=months[0])
    p = project(Method.FUEL_SWITCH, params, {"oil": MeterRole.AFFECTED, "hp": MeterRole.AFFECTED},
                area="carbon_reduction_tech", subcategory="fuel_switching")  # fmt: skip
    meters = [("oil", MeterRole.AFFECTED, "diesel", "t"),
              ("hp", MeterRole.AFFECTED, "electricity", "kWh")]  # fmt: skip
    rows = [
        (("oil", "hp")[i % 2], months[i % 3], Fraction(v, 10_000)) for i, v in enumerate(values)
    ]
    shuffled = list(rows)
    random.Random(seed).shuffle(shuffled)
    a = compute(inputs(p, meters, rows, AS_OF), months[1:], "x", rules())
    b = compute(inputs(p, meters, shuffled, AS_OF), months[1:], "x", rules())
    assert [m.reduction for m in a.months] == [m.reduction for m in b.months]
    assert a.as_json() == b.as_json()


def test_inputs_are_read_once_per_kind(plant: str) -> None:
    """The database side reads the project's months in bulk (one activity query)."""
    with psycopg.connect(plant, autocommit=True) as conn:
        project_ = read_project(conn, "lishui-pv-01")
        found = read_inputs(conn, project_, Period.parse("2026", AS_OF).months(), AS_OF)
    assert {m.id for m in found.meters} == {"pv-1", "aux-1"}
    assert any(f.id == "grid.zhejiang.2023" for f in found.factors)
