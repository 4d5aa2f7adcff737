"""The HJ 212 driver: a TCP server that CEMS data loggers connect to and push packets into.

Each connection gets its own :class:`~edge.drivers.hj212.codec.PacketFramer`. A packet is checked
with the tolerances of the device its MN names, turned into readings (CN 2011 real-time ``Rtd``,
2051 minute and 2061 hourly ``Avg``), handed to ``emit`` (the durable outbox), and only then
answered with a 9014 packet when its Flag asks for an answer: the logger keeps data we have not
stored. Packets from unknown MNs, with a wrong password or a bad frame are logged and dropped;
unknown ST/CN are logged and passed over. Nothing a logger sends can stop the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from carbonledger.errors import FrameError
from carbonledger.wire import ID_PATTERN, Quality, Reading
from edge.drivers import Emit

from . import codec
from .codec import Packet, Tolerance

log = logging.getLogger(__name__)

CO2_PERCENT_TO_MG_M3 = 19_647.0  # 1 % v/v CO2 = 19,647 mg/m3 (domain.md §3.4: 44.01/22.4 × 10^4)
DATA_COMMANDS = ("2011", "2051", "2061")
KNOWN_ST = frozenset({"21", "22", "23", "31", "32", "91"})
FIELD_FOR_COMMAND = {"2011": "Rtd", "2051": "Avg", "2061": "Avg"}
PRESSURE_TO_PA = {"Pa": 1.0, "hPa": 100.0, "kPa": 1000.0}
FLOW_TO_M3_H = {"m3/h": 1.0, "m3/s": 3600.0}
CO2_TO_MG_M3 = {"mg/m3": 1.0, "%": CO2_PERCENT_TO_MG_M3}
QUALITY_OF_FLAG = {"N": Quality.GOOD, "S": Quality.ESTIMATED}  # F M D C T B and others: BAD
MeterId = Annotated[str, Field(pattern=f"^{ID_PATTERN}$")]


class DeviceConfig(BaseModel):
    """One data logger (by its MN): where its readings go and how its values are expressed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mn: str = Field(min_length=1, max_length=64)
    meter: MeterId  # the registry meter id the stack's readings are published under
    password: str | None = None  # PW to require; None accepts any
    tolerances: list[Literal["modbus-crc", "swapped-crc", "wrong-length"]] = []
    co2_unit: Literal["mg/m3", "%"] = "mg/m3"  # HJ 212 code table unit; many analysers send % v/v
    pressure_unit: Literal["Pa", "hPa", "kPa"] = "kPa"  # a01013 static pressure, usually kPa
    flow_unit: Literal["m3/s", "m3/h"] = "m3/s"  # a00000: m3/s in the HJ 212 code table
    commands: list[Literal["2011", "2051", "2061"]] = ["2011", "2051", "2061"]

    @property
    def tolerance(self) -> Tolerance:
        return codec.parse_tolerances(list(self.tolerances))

    def factor(self, code: str) -> float:
        """Multiply the device's value of ``code`` by this to get the canonical unit."""
        return {
            "a05001": CO2_TO_MG_M3[self.co2_unit],
            "a01013": PRESSURE_TO_PA[self.pressure_unit],
            "a00000": FLOW_TO_M3_H[self.flow_unit],
        }.get(code, 1.0)


class Config(BaseModel):
    """The ``[[devices]]`` entry of type ``hj212``: a listener and the loggers it accepts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["hj212"] = "hj212"
    name: str = "hj212"
    host: str = "0.0.0.0"  # noqa: S104 - data loggers on the plant network connect to us
    port: int = Field(default=9000, ge=0, le=65535)
    idle_timeout_s: float = Field(default=900.0, gt=0)  # close a silent connection
    devices: list[DeviceConfig] = []

    @field_validator("devices")
    @classmethod
    def _unique_mn(cls, devices: list[DeviceConfig]) -> list[DeviceConfig]:
        seen: set[str] = set()
        for device in devices:
            if device.mn in seen:
                raise ValueError(f"MN {device.mn!r} is configured twice")
            seen.add(device.mn)
        return devices


# HJ 212 pollutant code → wire quantity.
QUANTITY_OF_CODE = {
    "a05001": "co2_concentration",
    "a00000": "flue_gas_flow",
    "a01012": "flue_gas_temperature",
    "a01013": "flue_gas_pressure",
    "a01014": "flue_gas_moisture",
    "a19001": "o2_concentration",
}


def readings_of(packet: Packet, device: DeviceConfig) -> list[Reading]:
    """The wire readings in one data packet (CN 2011/2051/2061), in canonical units."""
    suffix = FIELD_FOR_COMMAND.get(packet.cn)
    if suffix is None or packet.cn not in device.commands or packet.data_time is None:
        return []
    readings = []
    for code, quantity in QUANTITY_OF_CODE.items():
        fields = packet.pollutants.get(code)
        value = fields.get(suffix) if fields else None
        if fields is None or value is None:
            continue
        if not isinstance(value, float):
            log.warning("non-numeric value", extra={"mn": packet.mn, "code": code, "value": value})
            continue
        quality = _quality(fields.get("Flag"), packet.mn, code)
        value *= device.factor(code)
        readings.append(Reading(device.meter, quantity, packet.data_time, value, quality))
    return readings


def _quality(flag: float | str | None, mn: str, code: str) -> Quality:
    if flag is None:  # older loggers send no data flag: the value is as measured
        return Quality.GOOD
    quality = QUALITY_OF_FLAG.get(str(flag))
    if quality is None:
        if flag not in ("F", "M", "D", "C", "T", "B"):
            log.warning("unknown data flag", extra={"mn": mn, "code": code, "flag": flag})
        return Quality.BAD
    return quality


class Hj212Server:
    """The running driver: ``run`` serves until ``stop`` is set; ``port`` is the bound port."""

    def __init__(self, config: Config) -> None:
        self.name = config.name
        self.config = config
        self.port: int | None = None
        self.ready = asyncio.Event()  # set once the socket listens (tests bind port 0)
        self._devices = {d.mn: d for d in config.devices}
        self._connections: set[asyncio.Task[None]] = set()

    async def run(self, emit: Emit, stop: asyncio.Event) -> None:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None  # noqa: S101 - a callback of start_server runs in a task
            self._connections.add(task)
            try:
                await self._serve(reader, writer, emit)
            finally:
                self._connections.discard(task)

        server = await asyncio.start_server(handle, self.config.host, self.config.port)
        self.port = server.sockets[0].getsockname()[1]
        log.info("hj212 listening", extra={"driver": self.name, "port": self.port})
        self.ready.set()
        try:
            await stop.wait()
        finally:
            server.close()
            for task in list(self._connections):
                task.cancel()
            await asyncio.gather(*self._connections, return_exceptions=True)
            await server.wait_closed()

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, emit: Emit
    ) -> None:
        peer = str(writer.get_extra_info("peername"))
        framer = codec.PacketFramer()
        log.info("hj212 logger connected", extra={"driver": self.name, "peer": peer})
        try:
            while True:
                try:
                    chunk = await asyncio.wait_for(reader.read(4096), self.config.idle_timeout_s)
                except TimeoutError:
                    log.info("hj212 connection idle, closing", extra={"peer": peer})
                    break
                if not chunk:
                    break
                for item in framer.feed(chunk):
                    if isinstance(item, FrameError):
                        log.warning("hj212 framing", extra={"peer": peer, "error": str(item)})
                        continue
                    answer = await self.handle_packet(item, emit, peer)
                    if answer:
                        writer.write(answer)
                        await writer.drain()
        except ConnectionError as exc:
            log.info("hj212 connection lost", extra={"peer": peer, "error": str(exc)})
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def handle_packet(self, raw: bytes, emit: Emit, peer: str = "") -> bytes | None:
        """Decode, check, emit; the 9014 answer to send back, if one was asked for."""
        mn = codec.peek_mn(raw)
        device = self._devices.get(mn) if mn is not None else None
        if device is None:
            log.warning("hj212 packet from unknown MN dropped", extra={"mn": mn, "peer": peer})
            return None
        try:
            packet = codec.decode(raw, device.tolerance)
        except FrameError as exc:
            log.warning("hj212 packet rejected", extra={"mn": mn, "peer": peer, "error": str(exc)})
            return None
        if packet.tolerated:
            names = ",".join(codec.tolerance_names(packet.tolerated))
            log.info("hj212 deviation tolerated", extra={"mn": mn, "tolerated": names})
        if device.password is not None and packet.pw != device.password:
            log.warning("hj212 wrong password, packet dropped", extra={"mn": mn, "peer": peer})
            return None
        await self._emit(packet, device, emit)
        return codec.data_answer(packet) if packet.answer_requested else None

    async def _emit(self, packet: Packet, device: DeviceConfig, emit: Emit) -> None:
        where = {"mn": packet.mn, "st": packet.st, "cn": packet.cn}
        if packet.st not in KNOWN_ST:
            log.info("hj212 unknown ST, decoding anyway", extra=where)
        if packet.cn not in DATA_COMMANDS:
            log.info("hj212 packet passed over (not a data command)", extra=where)
            return
        readings: Sequence[Reading] = readings_of(packet, device)
        if readings:
            await emit(readings)


def create(config: Config) -> Hj212Server:
    return Hj212Server(config)
