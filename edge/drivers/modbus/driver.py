"""The Modbus driver: polls meters on one Modbus TCP gateway or RTU bus with pymodbus (async).

pymodbus is the protocol library; this module only maps it (Home Assistant's split): a meter's
profile says which registers to read and how to decode them, and each value becomes a reading in
its quantity's canonical unit. Register values are sent as read (after the profile's scale, which
is part of the encoding): CT/PT multipliers belong to the registry, not to the edge. pymodbus
errors are translated into :class:`~carbonledger.errors.DeviceError` here, logged, and the meter
is read again next interval.
"""

from __future__ import annotations

import asyncio
import logging
import math
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from carbonledger.errors import DeviceError, FrameError
from carbonledger.wire import ID_PATTERN, Reading
from edge.drivers import Emit, clock, poll_every
from edge.drivers.link import BusSettings

from .profiles import Profile, Register, load_profiles

log = logging.getLogger(__name__)

MeterId = Annotated[str, Field(pattern=f"^{ID_PATTERN}$")]
Client = AsyncModbusTcpClient | AsyncModbusSerialClient


class MeterConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    meter: MeterId  # registry meter id
    profile: str  # a profile file's stem: eastron_sdm630, chint_dtsu666 …
    unit_id: int = Field(default=1, ge=0, le=247)
    quantities: list[str] | None = None  # a subset of the profile's; None reads them all
    # Recorded for commissioning and checked against the registry's meters.multiplier; the edge
    # never applies them (the wire carries registers as read).
    ct_ratio: float = Field(default=1.0, gt=0)
    pt_ratio: float = Field(default=1.0, gt=0)


class Config(BusSettings):
    """The ``[[devices]]`` entry of type ``modbus``: one TCP gateway or RTU bus and its meters."""

    type: Literal["modbus"] = "modbus"
    name: str = "modbus"
    transport: Literal["tcp", "rtu"] = "tcp"
    profile_dirs: list[Path] = Field(default_factory=list)  # extra *.toml folders, after built-ins
    meters: list[MeterConfig] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> Config:
        self.plan()  # every meter's profile and quantities exist (files only, no network)
        return self

    def plan(self) -> list[tuple[MeterConfig, list[Register]]]:
        """Each meter with the registers it reads; a ConfigError names what is wrong."""
        profiles = load_profiles(self.profile_dirs)
        return [(meter, _registers(meter, profiles)) for meter in self.meters]


def _registers(meter: MeterConfig, profiles: dict[str, Profile]) -> list[Register]:
    profile = profiles.get(meter.profile)
    if profile is None:
        known = ", ".join(sorted(profiles))
        raise ValueError(f"meter {meter.meter}: unknown profile {meter.profile!r} ({known})")
    if meter.quantities is None:
        return list(profile.registers)
    by_quantity = {r.quantity: r for r in profile.registers}
    missing = [q for q in meter.quantities if q not in by_quantity]
    if missing:
        raise ValueError(f"meter {meter.meter}: profile {profile.name} has no {missing[0]!r}")
    return [by_quantity[q] for q in meter.quantities]


def make_client(config: Config) -> Client:
    if config.transport == "rtu":
        assert config.serial_port is not None  # noqa: S101 - checked by the model
        return AsyncModbusSerialClient(
            config.serial_port,
            baudrate=config.baudrate,
            bytesize=config.bytesize,
            parity=config.parity,
            stopbits=config.stopbits,
            timeout=config.timeout_s,
            retries=config.retries,
        )
    assert config.host is not None  # noqa: S101 - checked by the model
    return AsyncModbusTcpClient(
        config.host, port=config.port, timeout=config.timeout_s, retries=config.retries
    )


class ModbusDriver:
    """Reads every meter's registers each interval and emits one batch per poll."""

    def __init__(self, config: Config, client: Client | None = None) -> None:
        self.name = config.name
        self.config = config
        self.plan = config.plan()
        self.client = client if client is not None else make_client(config)
        for meter, _ in self.plan:
            if meter.ct_ratio * meter.pt_ratio != 1:
                log.info(
                    "modbus meter has CT/PT; readings are sent as read",
                    extra={
                        "meter": meter.meter,
                        "registry_multiplier": meter.ct_ratio * meter.pt_ratio,
                    },
                )

    async def run(self, emit: Emit, stop: asyncio.Event) -> None:
        try:
            await poll_every(self.config.interval_s, self.poll, emit, stop)
        finally:
            self.client.close()

    async def poll(self) -> list[Reading]:
        """One round over every meter; a failing meter is logged and skipped until next time."""
        readings: list[Reading] = []
        for meter, registers in self.plan:
            try:
                await self._connect()
                for register in registers:
                    value = await self.read(meter.unit_id, register)
                    if value is not None:
                        readings.append(Reading(meter.meter, register.quantity, clock.now(), value))
            except DeviceError as exc:
                log.warning(
                    "modbus meter did not answer", extra={"meter": meter.meter, "problem": str(exc)}
                )
        return readings

    async def _connect(self) -> None:
        if self.client.connected:
            return
        try:
            connected = await self.client.connect()
        except ModbusException as exc:
            raise DeviceError(f"cannot connect: {exc}") from exc
        if not connected:
            raise DeviceError(f"cannot connect to {self._where()}")

    async def read(self, unit_id: int, register: Register) -> float | None:
        """One register's value, ``None`` for an exception response (logged)."""
        method: Any = (
            self.client.read_holding_registers
            if register.function == 3
            else self.client.read_input_registers
        )
        try:
            response = await method(register.address, count=register.count, device_id=unit_id)
        except ModbusException as exc:
            raise DeviceError(f"unit {unit_id} at {self._where()}: {exc}") from exc
        if response.isError():
            log.warning(
                "modbus exception response",
                extra={"unit": unit_id, "address": register.address, "response": str(response)},
            )
            return None
        try:
            value = register.decode(response.registers)
        except FrameError as exc:
            log.warning("modbus bad register data", extra={"unit": unit_id, "error": str(exc)})
            return None
        if not math.isfinite(value):  # a float register holding NaN: the meter has no value
            log.warning(
                "modbus value not finite", extra={"unit": unit_id, "address": register.address}
            )
            return None
        return value

    def _where(self) -> str:
        c = self.config
        return f"{c.host}:{c.port}" if c.transport == "tcp" else str(c.serial_port)


def create(config: Config) -> ModbusDriver:
    return ModbusDriver(config)
