"""Typed builders for Grafana dashboard JSON (schema of the Grafana version in docker-compose.yml).

A :class:`Dashboard` holds :class:`Panel` objects, each with its queries (:class:`Sql` against the
PostgreSQL data source) and the dashboard's variables.
``to_json()`` gives the dashboard model Grafana stores; ids and grid positions are assigned there,
in declaration order, so the output depends on nothing but the definitions.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

GRAFANA_VERSION = "11.6.0"  # the image tag in docker-compose.yml; a test keeps them equal
SCHEMA_VERSION = 39  # dashboard JSON schema; Grafana migrates older versions on load
TIMEZONE = "Asia/Shanghai"  # days and months of the accounts (domain.md §1)
GRID_WIDTH = 24


@dataclass(frozen=True)
class DataSource:
    """A provisioned data source, referred to by uid (deploy/grafana/provisioning/datasources)."""

    type: str
    uid: str
    name: str

    def ref(self) -> dict[str, str]:
        return {"type": self.type, "uid": self.uid}


POSTGRES = DataSource("grafana-postgresql-datasource", "carbonledger-postgres", "carbonledger")


class Format(StrEnum):
    """How Grafana's SQL data source shapes a result (``format`` of the query)."""

    TIME_SERIES = "time_series"  # a column named "time", numeric values, text columns as labels
    TABLE = "table"


@dataclass(frozen=True)
class Sql:
    """A raw SQL query for the PostgreSQL data source (Grafana's macros and $variables)."""

    sql: str
    format: Format = Format.TABLE

    datasource: ClassVar[DataSource] = POSTGRES

    def to_json(self, ref_id: str) -> dict[str, Any]:
        return {
            "datasource": self.datasource.ref(),
            "editorMode": "code",
            "format": self.format.value,
            "rawQuery": True,
            "rawSql": _dedent(self.sql),
            "refId": ref_id,
        }


class Kind(StrEnum):
    """Grafana panel plugins used here."""

    TIMESERIES = "timeseries"
    STAT = "stat"
    TABLE = "table"
    BARCHART = "barchart"
    PIECHART = "piechart"


@dataclass(frozen=True)
class Panel:
    """One panel: a visualisation of one or more queries, ``width`` of 24 columns wide."""

    title: str
    kind: Kind
    queries: tuple[Sql, ...]
    description: str = ""
    unit: str = ""
    decimals: int | None = None
    width: int = 12
    height: int = 8
    min_interval: str | None = None  # lower bound of $__interval (15m for 15-minute buckets)
    stacked: bool = False
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 1 <= self.width <= GRID_WIDTH:
            raise ValueError(f"panel {self.title!r}: width {self.width} is not 1..{GRID_WIDTH}")
        if not self.queries:
            raise ValueError(f"panel {self.title!r} has no query")
        sources = {q.datasource.uid for q in self.queries}
        if len(sources) > 1:
            raise ValueError(f"panel {self.title!r} mixes data sources {sorted(sources)}")

    @property
    def datasource(self) -> DataSource:
        return self.queries[0].datasource

    def to_json(self, panel_id: int, x: int, y: int) -> dict[str, Any]:
        defaults: dict[str, Any] = {}
        if self.unit:
            defaults["unit"] = self.unit
        if self.decimals is not None:
            defaults["decimals"] = self.decimals
        if self.kind is Kind.TIMESERIES:
            defaults["custom"] = {
                "drawStyle": "line",
                "lineWidth": 1,
                "fillOpacity": 20 if self.stacked else 0,
                "stacking": {"mode": "normal" if self.stacked else "none", "group": "A"},
                "spanNulls": False,
            }
        panel: dict[str, Any] = {
            "id": panel_id,
            "type": self.kind.value,
            "title": self.title,
            "description": self.description,
            "datasource": self.datasource.ref(),
            "gridPos": {"h": self.height, "w": self.width, "x": x, "y": y},
            "fieldConfig": {"defaults": defaults, "overrides": []},
            "options": {**_DEFAULT_OPTIONS.get(self.kind, {}), **self.options},
            "targets": [q.to_json(chr(ord("A") + i)) for i, q in enumerate(self.queries)],
        }
        if self.min_interval:
            panel["interval"] = self.min_interval
        return panel


_DEFAULT_OPTIONS: dict[Kind, dict[str, Any]] = {
    Kind.STAT: {
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        "colorMode": "value",
        "graphMode": "none",
        "textMode": "auto",
    },
    Kind.TIMESERIES: {
        "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
        "tooltip": {"mode": "multi", "sort": "desc"},
    },
    Kind.TABLE: {"showHeader": True, "cellHeight": "sm"},
    Kind.BARCHART: {"orientation": "horizontal", "showValue": "auto", "stacking": "normal"},
    Kind.PIECHART: {
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": True},
        "pieType": "donut",
        "legend": {"displayMode": "table", "placement": "right", "values": ["value", "percent"]},
    },
}


@dataclass(frozen=True)
class QueryVariable:
    """A variable whose options come from SQL (``__text``/``__value`` or one column)."""

    name: str
    label: str
    sql: str
    multi: bool = False
    include_all: bool = False

    def to_json(self) -> dict[str, Any]:
        sql = _dedent(self.sql)
        return {
            "name": self.name,
            "label": self.label,
            "type": "query",
            "datasource": POSTGRES.ref(),
            "definition": sql,
            "query": sql,
            "refresh": 1,  # on dashboard load
            "multi": self.multi,
            "includeAll": self.include_all,
            "current": {},
            "options": [],
            "sort": 1,
            "hide": 0,
        }


@dataclass(frozen=True)
class TextVariable:
    """A free-text variable with a default (a threshold the bureau may change while looking)."""

    name: str
    label: str
    default: str

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "type": "textbox",
            "query": self.default,
            "current": {"text": self.default, "value": self.default},
            "hide": 0,
        }


Variable = QueryVariable | TextVariable


@dataclass(frozen=True)
class Dashboard:
    """A dashboard with a stable ``uid`` (what links, pushes and provisioning key on)."""

    uid: str
    title: str
    description: str
    panels: tuple[Panel, ...]
    variables: tuple[Variable, ...] = ()
    tags: tuple[str, ...] = ("carbonledger",)
    time_from: str = "now/d"
    time_to: str = "now"
    refresh: str = "1m"

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-zA-Z0-9_-]{1,40}", self.uid):
            raise ValueError(f"dashboard uid {self.uid!r}: 1-40 letters, digits, - or _")

    def to_json(self) -> dict[str, Any]:
        return {
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": list(self.tags),
            "timezone": TIMEZONE,
            "weekStart": "monday",
            "editable": False,
            "graphTooltip": 1,
            "schemaVersion": SCHEMA_VERSION,
            "time": {"from": self.time_from, "to": self.time_to},
            "refresh": self.refresh,
            "annotations": {"list": []},
            "links": [],
            "templating": {"list": [v.to_json() for v in self.variables]},
            "panels": _layout(self.panels),
        }


def _layout(panels: tuple[Panel, ...]) -> list[dict[str, Any]]:
    """Ids 1..n in order; left to right, a new row when the next panel does not fit."""
    out, x, y, row_height = [], 0, 0, 0
    for panel_id, panel in enumerate(panels, start=1):
        if x + panel.width > GRID_WIDTH:
            x, y, row_height = 0, y + row_height, 0
        out.append(panel.to_json(panel_id, x, y))
        x += panel.width
        row_height = max(row_height, panel.height)
    return out


def _dedent(sql: str) -> str:
    """The query without the Python source's indentation (that of its first line)."""
    lines = [line.rstrip() for line in sql.strip("\n").splitlines()]
    indent = len(lines[0]) - len(lines[0].lstrip()) if lines else 0
    return "\n".join(line[indent:] if line[:indent].isspace() else line.lstrip() for line in lines)


def _factory(kind: Kind, query_format: Format) -> Callable[..., Panel]:
    def make(title: str, sql: str, **options: Any) -> Panel:
        return Panel(title, kind, (Sql(sql, query_format),), **options)

    make.__doc__ = f"A {kind.value} panel of one SQL query in {query_format.value} format."
    return make


# One SQL query per panel: time series take the time_series format, the rest a table.
timeseries = _factory(Kind.TIMESERIES, Format.TIME_SERIES)
stat = _factory(Kind.STAT, Format.TABLE)
table = _factory(Kind.TABLE, Format.TABLE)
barchart = _factory(Kind.BARCHART, Format.TABLE)
piechart = _factory(Kind.PIECHART, Format.TABLE)
