"""Every driver the agent can run, by its ``type`` in the gateway config (explicit, like Telegraf's
``plugins/inputs/all``).

Each entry maps a config ``type`` to the driver package's pydantic ``Config`` model (which has a
``type: Literal[...]`` field) and its ``create(config) -> Driver`` factory. Add a line per driver.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from pydantic import BaseModel

from edge.drivers import Driver, dlt645, hj212, modbus, simulator


class DriverEntry(NamedTuple):
    config: type[BaseModel]
    create: Callable[[Any], Driver]


DRIVERS: dict[str, DriverEntry] = {
    "simulator": DriverEntry(simulator.Config, simulator.create),
    "hj212": DriverEntry(hj212.Config, hj212.create),
    "dlt645": DriverEntry(dlt645.Config, dlt645.create),
    "modbus": DriverEntry(modbus.Config, modbus.create),
    # "modbus": DriverEntry(modbus.Config, modbus.create),  <- one line per driver
}
