"""Modbus energy meters (TCP and RTU) described by profile files (see README.md)."""

from __future__ import annotations

from .driver import Config, MeterConfig, ModbusDriver, create
from .profiles import Profile, Register, load_profile, load_profiles

__all__ = [
    "Config",
    "MeterConfig",
    "ModbusDriver",
    "Profile",
    "Register",
    "create",
    "load_profile",
    "load_profiles",
]
