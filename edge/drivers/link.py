"""The small link interface request/response drivers talk through (TCP to a DTU, or RS-485).

A codec never sees a socket and a driver never parses bytes: the driver writes a request with
:meth:`Link.send`, feeds whatever :meth:`Link.receive` returns to its codec's framer, and gives up
after its own timeout. Tests replace a link with an in-memory one. Link failures surface as
:class:`~carbonledger.errors.DeviceError` (OS and serial errors are translated here).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Literal, Protocol, Self

import serial
import serial_asyncio
from pydantic import BaseModel, ConfigDict, Field, model_validator

from carbonledger.errors import DeviceError


class BusSettings(BaseModel):
    """Where a polling driver's bus is and how it is polled: TCP to a gateway/DTU, or a serial
    line. Each driver's ``Config`` extends it, with its own ``transport`` names and defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    transport: str = "tcp"  # "tcp", or the driver's name for its serial transport
    host: str | None = None
    port: int = Field(default=502, ge=1, le=65535)
    serial_port: str | None = None  # /dev/ttyUSB0 …
    baudrate: int = 9600
    bytesize: Literal[7, 8] = 8
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    interval_s: float = Field(default=15.0, gt=0)
    timeout_s: float = Field(default=2.0, gt=0)
    retries: int = Field(default=2, ge=0, le=10)

    @model_validator(mode="after")
    def _link_settings(self) -> Self:
        if self.transport == "tcp" and not self.host:
            raise ValueError("transport 'tcp' needs host")
        if self.transport != "tcp" and not self.serial_port:
            raise ValueError(f"transport '{self.transport}' needs serial_port")
        return self


class Link(Protocol):
    """A byte pipe to one bus or device; opened lazily, reopened after a failure."""

    description: str

    async def open(self) -> None: ...

    async def send(self, data: bytes) -> None: ...

    async def receive(self) -> bytes:
        """Some bytes (at least one); raises :class:`DeviceError` when the link closed."""
        ...

    async def close(self) -> None: ...

    @property
    def is_open(self) -> bool: ...


class StreamLink:
    """A link over asyncio streams; subclasses say how to open them."""

    description = "stream"

    def __init__(self, connect_timeout_s: float = 5.0) -> None:
        self.connect_timeout_s = connect_timeout_s
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    @property
    def is_open(self) -> bool:
        return self._writer is not None

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        raise NotImplementedError

    async def open(self) -> None:
        if self._writer is not None:
            return
        try:
            self._reader, self._writer = await asyncio.wait_for(
                self._connect(), self.connect_timeout_s
            )
        except (OSError, TimeoutError) as exc:
            raise DeviceError(f"cannot open {self.description}: {exc or 'timed out'}") from exc

    async def send(self, data: bytes) -> None:
        if self._writer is None:
            await self.open()
        assert self._writer is not None  # noqa: S101 - open() set it or raised
        try:
            self._writer.write(data)
            await self._writer.drain()
        except OSError as exc:
            await self.close()
            raise DeviceError(f"{self.description}: write failed: {exc}") from exc

    async def receive(self) -> bytes:
        if self._reader is None:
            raise DeviceError(f"{self.description}: not open")
        try:
            data = await self._reader.read(1024)
        except OSError as exc:
            await self.close()
            raise DeviceError(f"{self.description}: read failed: {exc}") from exc
        if not data:
            await self.close()
            raise DeviceError(f"{self.description}: closed by the other end")
        return data

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


class TcpLink(StreamLink):
    """TCP to a serial-to-Ethernet converter (DTU) in transparent mode."""

    def __init__(self, host: str, port: int, connect_timeout_s: float = 5.0) -> None:
        super().__init__(connect_timeout_s)
        self.host, self.port = host, port
        self.description = f"tcp://{host}:{port}"

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection(self.host, self.port)


class SerialLink(StreamLink):
    """An RS-485 port through pyserial-asyncio (imported only when a serial link is opened)."""

    def __init__(
        self,
        port: str,
        *,
        baudrate: int = 2400,
        bytesize: int = 8,
        parity: str = "E",
        stopbits: float = 1,
        connect_timeout_s: float = 5.0,
    ) -> None:
        super().__init__(connect_timeout_s)
        self.settings: dict[str, Any] = {
            "url": port,
            "baudrate": baudrate,
            "bytesize": bytesize,
            "parity": parity,
            "stopbits": stopbits,
        }
        self.description = f"serial:{port}@{baudrate}-{bytesize}{parity}{stopbits:g}"

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await open_serial(**self.settings)


async def open_serial(**settings: Any) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """The serial boundary: pyserial-asyncio's streams, its errors translated (tests mock this)."""
    try:
        reader, writer = await serial_asyncio.open_serial_connection(**settings)
    except serial.SerialException as exc:
        raise DeviceError(f"cannot open serial port {settings.get('url')}: {exc}") from exc
    return reader, writer
