"""The dashboards as Grafana JSON files: one ``<uid>.json`` each, byte-for-byte deterministic."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from carbonledger.errors import ConfigError
from dashboards._city import CITY
from dashboards._enterprise import ENTERPRISE_DASHBOARD
from dashboards._finance import FINANCE
from dashboards._model import Dashboard
from dashboards._operations import OPERATIONS
from dashboards._projects import PROJECTS
from dashboards._quality import QUALITY

DASHBOARDS: tuple[Dashboard, ...] = (
    CITY,
    ENTERPRISE_DASHBOARD,
    QUALITY,
    OPERATIONS,
    FINANCE,
    PROJECTS,
)


def render(dashboard: Dashboard) -> str:
    """The dashboard's JSON text: sorted keys, two-space indent, Chinese kept as written."""
    return json.dumps(dashboard.to_json(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def models() -> list[dict[str, Any]]:
    """Every dashboard's JSON model, in a fixed order."""
    return [d.to_json() for d in DASHBOARDS]


def write_dashboards(out_dir: Path) -> list[Path]:
    """Write every dashboard into ``out_dir`` (created if missing); return the files written.

    Each file is written beside its target and renamed, so a Grafana that polls the folder never
    reads half a file.
    """
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        written = []
        for dashboard in DASHBOARDS:
            path = out_dir / f"{dashboard.uid}.json"
            temporary = path.with_suffix(".json.tmp")
            temporary.write_text(render(dashboard), encoding="utf-8")
            temporary.replace(path)
            written.append(path)
    except OSError as exc:
        raise ConfigError(f"{out_dir}: cannot write dashboards: {exc.strerror}") from exc
    return written
