"""The dashboards' JSON: stable, unique ids, valid references, and a deterministic build."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from dashboards import DASHBOARDS, GRAFANA_VERSION, models, render
from launcher.cli import main

ROOT = Path(__file__).resolve().parents[2]
PROVISIONING = ROOT / "deploy" / "grafana" / "provisioning"
_VARIABLE = re.compile(r"\$(\w+)|\$\{(\w+)(?::\w+)?\}")


def _datasources() -> dict[str, str]:
    """uid -> type of every provisioned data source."""
    doc = yaml.safe_load((PROVISIONING / "datasources" / "carbonledger.yaml").read_text())
    return {d["uid"]: d["type"] for d in doc["datasources"]}


def test_uids_are_unique_and_stable() -> None:
    uids = [m["uid"] for m in models()]
    assert len(set(uids)) == len(uids) == 6
    # links, pushes and provisioning key on these: changing one orphans the old dashboard
    assert uids == [
        "carbonledger-city",
        "carbonledger-enterprise",
        "carbonledger-quality",
        "carbonledger-operations",
        "carbonledger-finance",
        "carbonledger-projects",
    ]


@pytest.mark.parametrize("model", models(), ids=lambda m: m["uid"])
def test_panels_ids_layout_and_data_sources(model: dict) -> None:  # type: ignore[type-arg]
    panels = model["panels"]
    ids = [p["id"] for p in panels]
    assert len(set(ids)) == len(ids) and ids, "panel ids unique within the dashboard"
    provisioned = _datasources()
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        area = {(x, y) for x in range(grid["x"], grid["x"] + grid["w"])
                for y in range(grid["y"], grid["y"] + grid["h"])}  # fmt: skip
        assert not area & cells, f"{panel['title']} overlaps another panel"
        cells |= area
        refs = [panel["datasource"], *(t["datasource"] for t in panel["targets"])]
        for ref in refs:
            assert provisioned.get(ref["uid"]) == ref["type"], (panel["title"], ref)
        assert [t["refId"] for t in panel["targets"]] == ["A", "B", "C"][: len(panel["targets"])]
        assert all(t["format"] in {"time_series", "table"} for t in panel["targets"])
    for variable in model["templating"]["list"]:
        if variable["type"] == "query":
            assert provisioned.get(variable["datasource"]["uid"]) == variable["datasource"]["type"]
    assert model["timezone"] == "Asia/Shanghai"


@pytest.mark.parametrize("model", models(), ids=lambda m: m["uid"])
def test_every_variable_used_is_defined(model: dict) -> None:  # type: ignore[type-arg]
    defined = {v["name"] for v in model["templating"]["list"]}
    used: set[str] = set()
    for panel in model["panels"]:
        texts = [panel["title"], panel["description"], *(t["rawSql"] for t in panel["targets"])]
        for text in texts:
            used |= {a or b for a, b in _VARIABLE.findall(text)}
    used = {name for name in used if not name.startswith("__")}  # Grafana's own macros
    assert used <= defined, f"undefined: {sorted(used - defined)}"
    assert defined <= used | {"district", "industry"}, "a variable nothing uses"


def test_build_writes_the_same_bytes_every_time(tmp_path: Path) -> None:
    assert main(["dashboards", "build", "--out", str(tmp_path / "a")]) == 0
    assert main(["dashboards", "build", "--out", str(tmp_path / "b")]) == 0
    first = {p.name: p.read_bytes() for p in (tmp_path / "a").iterdir()}
    second = {p.name: p.read_bytes() for p in (tmp_path / "b").iterdir()}
    assert first == second
    assert sorted(first) == sorted(f"{d.uid}.json" for d in DASHBOARDS)
    for dashboard in DASHBOARDS:
        text = first[f"{dashboard.uid}.json"].decode()
        assert text == render(dashboard)
        assert json.loads(text)["uid"] == dashboard.uid
        assert "两高" in text or dashboard.uid != "carbonledger-city"  # kept as written


def test_the_provider_serves_the_folder_compose_mounts() -> None:
    provider = yaml.safe_load((PROVISIONING / "dashboards" / "carbonledger.yaml").read_text())
    (entry,) = provider["providers"]
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    grafana = compose["services"]["grafana"]
    assert f"dashboards:{entry['options']['path']}:ro" in grafana["volumes"]
    assert "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro" in grafana["volumes"]
    assert grafana["image"] == f"grafana/grafana:{GRAFANA_VERSION}"
    (source,) = yaml.safe_load((PROVISIONING / "datasources" / "carbonledger.yaml").read_text())[
        "datasources"
    ]
    assert source["jsonData"]["timescaledb"] is True  # $__timeGroup becomes time_bucket
    assert source["secureJsonData"]["password"] == "${GRAFANA_DB_PASSWORD}"  # from the env
    assert "GRAFANA_DB_PASSWORD" in grafana["environment"]
