"""The DL/T 645 driver: polls meters on one RS-485 bus (directly or through a TCP DTU).

Meters on a bus answer one at a time, so a driver instance owns one link and polls its meters in
turn, one data identifier per request. A request that gets no valid answer within ``timeout_s``
is retried ``retries`` times; a meter that still does not answer is logged and polled again next
interval. A link failure closes the link; the next request reopens it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from carbonledger.errors import DeviceError, FrameError
from carbonledger.wire import ID_PATTERN, Reading
from edge.drivers import Emit, clock, poll_every
from edge.drivers.link import BusSettings, Link, SerialLink, TcpLink

from . import codec
from .codec import Reply

log = logging.getLogger(__name__)

QUANTITY_OF_DI = {
    "00010000": "energy_import",
    "00020000": "energy_export",
    "02030000": "active_power",
}
MeterId = Annotated[str, Field(pattern=f"^{ID_PATTERN}$")]


class MeterConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    meter: MeterId  # registry meter id
    address: str = Field(pattern=r"^([0-9]{12}|[Aa]{12})$")  # as printed on the nameplate
    dis: list[str] = list(QUANTITY_OF_DI)

    @field_validator("dis")
    @classmethod
    def _known(cls, dis: list[str]) -> list[str]:
        unknown = [di for di in dis if di.upper() not in QUANTITY_OF_DI]
        if unknown:
            raise ValueError(f"no quantity for DI {unknown[0]}; use {', '.join(QUANTITY_OF_DI)}")
        return [di.upper() for di in dis]


class Config(BusSettings):
    """The ``[[devices]]`` entry of type ``dlt645``: one bus, its link and its meters."""

    type: Literal["dlt645"] = "dlt645"
    name: str = "dlt645"
    transport: Literal["tcp", "serial"] = "tcp"
    port: int = Field(default=8899, ge=1, le=65535)  # a DTU's usual port
    baudrate: int = 2400  # DL/T 645: 2400 8E1 (old meters 1200)
    parity: Literal["N", "E", "O"] = "E"
    interval_s: float = Field(default=60.0, gt=0)
    preamble: int = Field(default=4, ge=0, le=8)  # FE wake-up bytes before each request
    meters: list[MeterConfig] = Field(min_length=1)


def make_link(config: Config) -> Link:
    if config.transport == "serial":
        assert config.serial_port is not None  # noqa: S101 - checked by the model
        return SerialLink(
            config.serial_port,
            baudrate=config.baudrate,
            bytesize=config.bytesize,
            parity=config.parity,
            stopbits=config.stopbits,
        )
    assert config.host is not None  # noqa: S101 - checked by the model
    return TcpLink(config.host, config.port)


class Dlt645Driver:
    """Polls every configured meter's DIs each interval and emits one batch per poll."""

    def __init__(self, config: Config, link: Link | None = None) -> None:
        self.name = config.name
        self.config = config
        self.link = link if link is not None else make_link(config)

    async def run(self, emit: Emit, stop: asyncio.Event) -> None:
        try:
            await poll_every(self.config.interval_s, self.poll, emit, stop)
        finally:
            await self.link.close()

    async def poll(self) -> list[Reading]:
        """One round over every meter; a silent or failing meter is logged and skipped."""
        readings: list[Reading] = []
        for meter in self.config.meters:
            for di in meter.dis:
                try:
                    reply = await self.read(meter.address, di)
                except DeviceError as exc:
                    log.warning("dlt645 meter did not answer", extra=_where(meter, di, exc))
                    break  # the next DI would time out too: skip to the next meter
                if reply.kind == "error":
                    log.warning("dlt645 error reply", extra=_where(meter, di, reply.errors))
                elif reply.value is not None and isinstance(reply.value.value, float):
                    quantity = QUANTITY_OF_DI[di]
                    readings.append(Reading(meter.meter, quantity, clock.now(), reply.value.value))
        return readings

    async def read(self, address: str, di: str) -> Reply:
        """Read one DI: send, wait for a matching reply, retry; :class:`DeviceError` when silent."""
        request = codec.read_request(address, di, self.config.preamble)
        last: str = "no answer"
        for attempt in range(self.config.retries + 1):
            try:
                await self.link.send(request)
                return await asyncio.wait_for(self._answer(address, di), self.config.timeout_s)
            except TimeoutError:
                last = f"no valid answer within {self.config.timeout_s} s"
            except DeviceError as exc:
                last = str(exc)
            log.debug("dlt645 retry", extra={"address": address, "di": di, "attempt": attempt})
        raise DeviceError(f"meter {address}, DI {di}: {last}")

    async def _answer(self, address: str, di: str) -> Reply:
        reader = codec.FrameReader()
        while True:
            for item in reader.feed(await self.link.receive()):
                if isinstance(item, FrameError):
                    log.info("dlt645 bad frame", extra={"address": address, "error": str(item)})
                    continue
                try:
                    reply = codec.interpret(item)
                except FrameError as exc:
                    log.info("dlt645 bad reply", extra={"address": address, "error": str(exc)})
                    continue
                if _answers(reply, address, di):
                    return reply


def _answers(reply: Reply, address: str, di: str) -> bool:
    """A reply from the polled meter to this DI (the DTU may echo our request; others may talk)."""
    if reply.kind not in ("reply", "error"):
        return False
    if address.upper() != codec.WILDCARD and reply.frame.address != address:
        return False
    return reply.kind == "error" or reply.di == di


def _where(meter: MeterConfig, di: str, problem: object) -> dict[str, object]:
    return {"meter": meter.meter, "address": meter.address, "di": di, "problem": str(problem)}


def create(config: Config) -> Dlt645Driver:
    return Dlt645Driver(config)
