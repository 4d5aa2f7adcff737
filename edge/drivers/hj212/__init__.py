"""HJ 212-2017 CEMS data loggers: a TCP server they push packets into (see README.md)."""

from __future__ import annotations

from .codec import Packet, PacketFramer, Tolerance
from .server import Config, DeviceConfig, Hj212Server, create, readings_of

__all__ = [
    "Config",
    "DeviceConfig",
    "Hj212Server",
    "Packet",
    "PacketFramer",
    "Tolerance",
    "create",
    "readings_of",
]
