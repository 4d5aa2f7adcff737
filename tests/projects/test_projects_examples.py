"""The documented example files parse (docs/examples/project-*.toml, project-drivers.csv)."""

from __future__ import annotations

from pathlib import Path

from projects import Method
from projects._files import read_declaration, read_drivers

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


def test_example_declarations_and_drivers_parse() -> None:
    pv = read_declaration(EXAMPLES / "project-pv.toml")
    boiler = read_declaration(EXAMPLES / "project-boiler.toml")
    assert pv.method is Method.GENERATION and boiler.method is Method.IPMVP_C
    assert boiler.params.driver == "production"
    drivers = read_drivers(EXAMPLES / "project-drivers.csv")
    assert len(drivers) == 13 and drivers[0].source == "production report (t)"
