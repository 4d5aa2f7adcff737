"""DL/T 645-2007 electricity meters polled over RS-485 or a TCP DTU (see README.md)."""

from __future__ import annotations

from .driver import QUANTITY_OF_DI, Config, Dlt645Driver, MeterConfig, create

__all__ = ["QUANTITY_OF_DI", "Config", "Dlt645Driver", "MeterConfig", "create"]
