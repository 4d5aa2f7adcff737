"""Every driver the agent can run, by its ``type`` in the gateway config (explicit, like Telegraf's
``plugins/inputs/all``).

Each entry maps a config ``type`` to the module that implements it: a package with a pydantic
``Config`` model (which has a ``type: Literal[...]`` field) and a ``create(config) -> Driver``
factory. A module is imported only when a gateway's config names its type, so a gateway loads the
drivers it runs and nothing else (the simulator driver lives with the simulator, a development
tool, and is never imported by a gateway that meters real hardware). Add a line per driver.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from pydantic import BaseModel

from edge.drivers import Driver

DRIVERS: dict[str, str] = {
    "hj212": "edge.drivers.hj212",
    "dlt645": "edge.drivers.dlt645",
    "modbus": "edge.drivers.modbus",
    "simulator": "simulator.driver",
}


class DriverEntry(NamedTuple):
    config: type[BaseModel]
    create: Callable[[Any], Driver]


def driver(type_: str) -> DriverEntry:
    """The catalogued driver for ``type_`` (imported on first use); KeyError if there is none."""
    module = importlib.import_module(DRIVERS[type_])
    return DriverEntry(module.Config, module.create)


def drivers(types: Iterable[str]) -> list[DriverEntry]:
    """The catalogued drivers among ``types``, each once, in catalogue order."""
    wanted = set(types)
    return [driver(name) for name in DRIVERS if name in wanted]
