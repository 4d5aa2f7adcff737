"""A panel query expanded the way Grafana expands it before its PostgreSQL data source runs it.

Grafana does it in three steps, mirrored here:

1. The browser's template service replaces dashboard variables (``$name``, ``${name}``) with the
   SQL data sources' ``interpolateVariable``: a single value goes in with its quotes doubled and
   no quotes around it; a multi-value or include-all variable gives every value quoted and joined
   with commas (``'a','b'``). Names starting with ``__`` are Grafana's own and left for later.
2. The backend's global substitutions (``sqleng.Interpolate``): ``$__interval_ms``,
   ``$__interval`` (``gtime.FormatInterval``), ``$__unixEpochFrom()``, ``$__unixEpochTo()``.
3. The PostgreSQL macro engine (``pkg/tsdb/grafana-postgresql-datasource/macros.go``): every
   ``$__name(args)`` matched by ``\\$([_a-zA-Z0-9]+)\\(([^\\)]*)\\)``, arguments split on commas
   and trimmed. ``$__timeFilter(c)`` is ``c BETWEEN 'from' AND 'to'`` (RFC 3339, UTC, nanosecond
   precision without trailing zeros); ``$__timeGroup(c, i)`` is
   ``floor(extract(epoch from c)/s)*s``, or ``time_bucket('s.sssS',c)`` when the data source has
   the TimescaleDB flag; a ``$__timeGroup`` directly followed by a comma gets ``AS "time"`` (the
   pre-5.3 form), as ``$__timeGroupAlias`` always does.

Anything else (an unknown macro or variable) raises, so a typo fails the test instead of Grafana.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

_VARIABLE = re.compile(r"\$(\w+)|\$\{(\w+)\}")
_MACRO = re.compile(r"\$([_a-zA-Z0-9]+)\(([^\)]*)\)")
_INTERVAL = re.compile(r"^(\d+)(ms|s|m|h|d|w|y)$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


@dataclass(frozen=True)
class Request:
    """What Grafana knows when it runs a panel: the range, the interval and the variables."""

    start: datetime
    end: datetime
    interval: timedelta
    variables: Mapping[str, str | Sequence[str]] = field(default_factory=dict)
    multi: frozenset[str] = frozenset()  # variables with multi-value or include-all
    timescaledb: bool = False


def expand(sql: str, request: Request) -> str:
    """The SQL text Grafana sends to PostgreSQL for ``sql``."""
    sql = _template(sql, request)
    sql = _global(sql, request)
    return _macros(sql, request)


def _template(sql: str, request: Request) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name.startswith("__"):
            return match.group(0)
        if name not in request.variables:
            raise KeyError(f"query uses ${name}, which the dashboard does not define")
        value = request.variables[name]
        if isinstance(value, str):
            escaped = value.replace("'", "''")
            return f"'{escaped}'" if name in request.multi else escaped
        return ",".join("'" + v.replace("'", "''") + "'" for v in value)

    return _VARIABLE.sub(replace, sql)


def _global(sql: str, request: Request) -> str:
    sql = sql.replace("$__interval_ms", str(request.interval // timedelta(milliseconds=1)))
    sql = sql.replace("$__interval", format_interval(request.interval))
    sql = sql.replace("$__unixEpochFrom()", str(int(request.start.timestamp())))
    return sql.replace("$__unixEpochTo()", str(int(request.end.timestamp())))


def _macros(sql: str, request: Request) -> str:
    original = sql

    def replace(match: re.Match[str]) -> str:
        name, args = match.group(1), [a.strip(" ") for a in match.group(2).split(",")]
        if name == "__timeGroup":
            end = original.find(match.group(0))
            if (
                end >= 0
                and original[end + len(match.group(0)) : end + len(match.group(0)) + 1] == ","
            ):
                name = "__timeGroupAlias"
        return _macro(name, args, request)

    return _MACRO.sub(replace, sql)


def _macro(name: str, args: list[str], request: Request) -> str:  # noqa: PLR0911
    start, end = rfc3339nano(request.start), rfc3339nano(request.end)
    if name == "__time":
        return f'{args[0]} AS "time"'
    if name == "__timeEpoch":
        return f'extract(epoch from {args[0]}) as "time"'
    if name == "__timeFilter":
        return f"{args[0]} BETWEEN '{start}' AND '{end}'"
    if name == "__timeFrom":
        return f"'{start}'"
    if name == "__timeTo":
        return f"'{end}'"
    if name == "__timeGroup":
        if len(args) < 2:
            raise ValueError(f"macro {name} needs time column and interval")
        seconds = parse_interval(args[1].strip("'"))
        if request.timescaledb:
            return f"time_bucket('{seconds:.3f}s',{args[0]})"
        return f"floor(extract(epoch from {args[0]})/{go_float(seconds)})*{go_float(seconds)}"
    if name == "__timeGroupAlias":
        return _macro("__timeGroup", args, request) + ' AS "time"'
    if name == "__unixEpochFilter":
        lo, hi = int(request.start.timestamp()), int(request.end.timestamp())
        return f"{args[0]} >= {lo} AND {args[0]} <= {hi}"
    raise ValueError(f"unknown macro {name!r}")


def rfc3339nano(moment: datetime) -> str:
    """Go's ``time.RFC3339Nano`` of the instant in UTC: fraction without trailing zeros."""
    utc = moment.astimezone(UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += f".{utc.microsecond:06d}".rstrip("0")
    return text + "Z"


def format_interval(interval: timedelta) -> str:
    """``gtime.FormatInterval``: the largest unit that fits, whole units only."""
    ms = interval // timedelta(milliseconds=1)
    for unit, size in (("y", 31536000000), ("d", 86400000), ("h", 3600000), ("m", 60000)):
        if ms >= size:
            return f"{ms // size}{unit}"
    if ms >= 1000:
        return f"{ms // 1000}s"
    return f"{ms}ms" if ms >= 1 else "1ms"


def parse_interval(text: str) -> float:
    """``gtime.ParseInterval`` for the forms dashboards use (``15m``, ``1h``, ``30s``)."""
    match = _INTERVAL.match(text)
    if not match:
        raise ValueError(f"error parsing interval {text}")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def go_float(value: float) -> str:
    """Go's ``%v`` of a float64 (``%g``, shortest digits): ``900``, ``0.5``, ``1.0368e+06``."""
    exact = Decimal(repr(float(value))).normalize()
    exponent = exact.adjusted()
    if exponent < -4 or exponent >= 6:
        return f"{exact.scaleb(-exponent)}e{exponent:+03d}"
    return format(exact, "f")
