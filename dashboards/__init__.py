"""Dashboards: Grafana dashboards as code, their JSON files, and pushing them to a server.

Four dashboards with stable uids (:data:`DASHBOARDS`): the bureau's city cockpit, the enterprise
drill-down, data quality and platform operations. Their panels query the PostgreSQL data source
that ``deploy/grafana/provisioning`` defines (uid :data:`POSTGRES`). ``carbonledger dashboards
build`` writes them (:func:`write_dashboards`), ``carbonledger dashboards push`` saves them in a
Grafana folder (:func:`push_dashboards`).
"""

from typing import TYPE_CHECKING

from dashboards._build import DASHBOARDS, models, render, write_dashboards
from dashboards._model import (
    GRAFANA_VERSION,
    POSTGRES,
    Dashboard,
    DataSource,
    Format,
    Kind,
    Panel,
    QueryVariable,
    Sql,
    TextVariable,
)

if TYPE_CHECKING:
    from dashboards._push import Pushed, push_dashboards

__all__ = [
    "DASHBOARDS",
    "GRAFANA_VERSION",
    "POSTGRES",
    "Dashboard",
    "DataSource",
    "Format",
    "Kind",
    "Panel",
    "Pushed",
    "QueryVariable",
    "Sql",
    "TextVariable",
    "models",
    "push_dashboards",
    "render",
    "write_dashboards",
]


def __getattr__(name: str) -> object:
    """``push_dashboards`` and ``Pushed`` on first use: grafana-client is slow to import."""
    if name in {"push_dashboards", "Pushed"}:
        from dashboards import _push  # noqa: PLC0415

        return getattr(_push, name)
    raise AttributeError(f"module 'dashboards' has no attribute {name!r}")
