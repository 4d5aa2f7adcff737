"""The helper expands macros exactly as Grafana does: cases from Grafana's own macros_test.go."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.dashboards.grafana_macros import Request, expand, format_interval, go_float

FROM = datetime(2018, 4, 12, 18, 0, tzinfo=UTC)
PLAIN = Request(FROM, FROM + timedelta(minutes=5), timedelta(minutes=10))
TIMESCALE = Request(FROM, FROM + timedelta(minutes=5), timedelta(minutes=10), timescaledb=True)


@pytest.mark.parametrize(
    ("request_", "sql", "expanded"),
    [
        (PLAIN, "select $__time(time_column)", 'select time_column AS "time"'),
        (PLAIN, "WHERE $__timeFilter(time_column)",
         "WHERE time_column BETWEEN '2018-04-12T18:00:00Z' AND '2018-04-12T18:05:00Z'"),
        (PLAIN, "select $__timeFrom()", "select '2018-04-12T18:00:00Z'"),
        (PLAIN, "select $__timeTo()", "select '2018-04-12T18:05:00Z'"),
        (PLAIN, "SELECT $__timeGroup(time_column,'5m'), value",
         'SELECT floor(extract(epoch from time_column)/300)*300 AS "time", value'),
        (PLAIN, "SELECT $__timeGroup(time_column,'5m') as time, value",
         "SELECT floor(extract(epoch from time_column)/300)*300 as time, value"),
        (PLAIN, "$__timeGroupAlias(time_column , '5m')",
         'floor(extract(epoch from time_column)/300)*300 AS "time"'),
        (TIMESCALE, "GROUP BY $__timeGroup(time_column , '12d')",
         "GROUP BY time_bucket('1036800.000s',time_column)"),
        (TIMESCALE, "GROUP BY $__timeGroup(time_column , '20ms')",
         "GROUP BY time_bucket('0.020s',time_column)"),
        (PLAIN, "select $__unixEpochFilter(time)",
         "select time >= 1523556000 AND time <= 1523556300"),
        (PLAIN, "SELECT $__interval, $__interval_ms", "SELECT 10m, 600000"),  # sqleng.Interpolate
    ],
)  # fmt: skip
def test_expansions_match_grafana(request_: Request, sql: str, expanded: str) -> None:
    assert expand(sql, request_) == expanded


def test_fractional_seconds_and_intervals_format_like_go() -> None:
    half = Request(
        datetime(1960, 2, 1, 7, 0, 0, 500_000, tzinfo=UTC),
        datetime(1980, 2, 3, 8, 0, 0, 500_000, tzinfo=UTC),
        timedelta(minutes=1),
    )
    assert expand("$__timeFilter(t)", half) == (
        "t BETWEEN '1960-02-01T07:00:00.5Z' AND '1980-02-03T08:00:00.5Z'"
    )
    assert [format_interval(timedelta(seconds=s)) for s in (0.02, 15, 90, 3600, 86400 * 3)] == [
        "20ms", "15s", "1m", "1h", "3d"
    ]  # fmt: skip
    assert [go_float(v) for v in (300.0, 0.5, 1036800.0, 86400.0)] == [
        "300", "0.5", "1.0368e+06", "86400"
    ]  # fmt: skip


def test_variables_single_quoted_by_the_query_multi_quoted_by_grafana() -> None:
    request = Request(
        FROM,
        FROM,
        timedelta(minutes=1),
        variables={"enterprise": "O'Brien", "district": ["莲都区", "青田县"]},
        multi=frozenset({"district"}),
    )
    sql = "code = '$enterprise' AND district IN ($district) AND ${enterprise} <> ''"
    assert expand(sql, request) == (
        "code = 'O''Brien' AND district IN ('莲都区','青田县') AND O''Brien <> ''"
    )
    with pytest.raises(KeyError, match=r"\$industry"):
        expand("x IN ($industry)", request)
