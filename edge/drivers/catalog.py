"""Every driver the agent can run, by its ``type`` in the gateway config (explicit, like Telegraf's
``plugins/inputs/all``).

Each entry maps a config ``type`` to the driver package's pydantic ``Config`` model (which has a
``type: Literal[...]`` field) and its ``create(config) -> Driver`` factory. Add a line per driver.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from pydantic import BaseModel

from edge.drivers import Driver


class DriverEntry(NamedTuple):
    config: type[BaseModel]
    create: Callable[[Any], Driver]


DRIVERS: dict[str, DriverEntry] = {
    # "modbus": DriverEntry(modbus.Config, modbus.create),  <- one line per driver
}
