"""DL/T 645-2007: the protocols.md vectors, golden cases, fuzzing, and the driver against a
meter simulator on TCP (ours: small and controllable: silent meters, echoes, noise, errors)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carbonledger.errors import ChecksumError, DeviceError, FrameError, LengthError
from edge.decode import decode_dlt645
from edge.drivers import link as link_module
from edge.drivers.dlt645 import Config, Dlt645Driver, codec, create

REQUEST = bytes.fromhex("68 61 01 00 00 00 00 68 11 04 33 33 34 33 14 16")
REPLY = bytes.fromhex("68 61 01 00 00 00 00 68 91 08 33 33 34 33 59 33 33 33 8A 16")
WILDCARD = bytes.fromhex("FE FE FE FE 68 AA AA AA AA AA AA 68 11 04 33 33 34 33 AE 16")
BAD = bytes.fromhex("FE FE FE FE 68 AA AA AA AA AA AA 68 11 04 33 33 33 33 5A 16")
TESTCASES = Path(__file__).parents[2] / "edge" / "drivers" / "dlt645" / "testcases"


def test_protocol_vectors() -> None:
    assert codec.read_request("000000000161", "00010000") == REQUEST
    assert codec.read_request("AAAAAAAAAAAA", "00010000", preamble=4) == WILDCARD
    reply = codec.decode(REPLY)
    assert (reply.frame.address, reply.frame.control, reply.di) == (
        "000000000161",
        0x91,
        "00010000",
    )
    assert reply.value == codec.Value(0.26, "kWh", "000000.26")
    with pytest.raises(ChecksumError, match="expected AD, got 5A"):
        codec.decode(BAD)
    assert codec.decode(WILDCARD).kind == "request"
    assert codec.encode_address("123456789012") == bytes.fromhex("12 90 78 56 34 12")


def test_signed_formats_and_error_words() -> None:
    power = codec.decode_value("02030000", bytes([0x34, 0x12, 0x80]))
    assert power == codec.Value(-0.1234, "kW", "-00.1234")
    assert codec.error_names(0x06) == ["no such data", "password error or unauthorised"]
    with pytest.raises(LengthError):
        codec.decode_value("00010000", b"\x00\x00")


@pytest.mark.parametrize("case", sorted(p.stem for p in TESTCASES.glob("*.txt")))
def test_golden(case: str) -> None:
    line = (TESTCASES / f"{case}.txt").read_bytes()
    expected = json.loads((TESTCASES / f"{case}.json").read_text())
    try:
        got = decode_dlt645(line)
    except FrameError as exc:
        got = {"error": str(exc)}
    assert got == expected


def test_reader_skips_noise_preamble_and_echo() -> None:
    reader = codec.FrameReader()
    stream = b"\x68\x68\xfe" + REQUEST + b"\x00\xfe\xfe" + REPLY
    frames = []
    for byte in stream:
        frames += [f for f in reader.feed(bytes([byte])) if isinstance(f, codec.Frame)]
    assert [codec.interpret(f).kind for f in frames] == ["request", "reply"]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_arbitrary_bytes(data: bytes) -> None:
    with contextlib.suppress(FrameError):
        codec.decode(data)
    for item in codec.FrameReader().feed(data):
        if isinstance(item, codec.Frame):
            with contextlib.suppress(FrameError):
                codec.interpret(item)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_fuzz_mutated_frames(data: st.DataObject) -> None:
    frame = bytearray(data.draw(st.sampled_from([REQUEST, REPLY, WILDCARD])))
    for _ in range(data.draw(st.integers(1, 3))):
        frame[data.draw(st.integers(0, len(frame) - 1))] = data.draw(st.integers(0, 255))
    with contextlib.suppress(FrameError):
        codec.decode(bytes(frame))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz_reader_finds_frame_after_garbage(garbage: bytes) -> None:
    items = codec.FrameReader().feed(garbage + REPLY)
    frames = [i for i in items if isinstance(i, codec.Frame)]
    assert codec.parse_frame(REPLY) in frames


# -- the simulator -------------------------------------------------------------------------------


class MeterSimulator:
    """A bus of DL/T 645 meters behind a TCP DTU: replies in pieces with FE preambles."""

    def __init__(self, meters: dict[str, dict[str, bytes]], echo: bool = False) -> None:
        self.meters = meters
        self.echo = echo
        self.silent: set[str] = set()
        self.requests: list[bytes] = []
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        frames = codec.FrameReader()
        try:
            while data := await reader.read(256):
                for frame in frames.feed(data):
                    if isinstance(frame, codec.Frame):
                        await self._answer(frame, writer)
        finally:
            writer.close()

    async def _answer(self, frame: codec.Frame, writer: asyncio.StreamWriter) -> None:
        self.requests.append(frame.data)
        if self.echo:
            writer.write(codec.build_frame(frame.address, frame.control, frame.data))
        address = frame.address
        if address == codec.WILDCARD and len(self.meters) == 1:
            address = next(iter(self.meters))
        values = self.meters.get(address)
        if values is None or address in self.silent or frame.function != codec.Function.READ:
            await writer.drain()
            return
        di = frame.data[3::-1].hex().upper()
        if di in values:
            reply = codec.build_frame(address, 0x91, frame.data[:4] + values[di], preamble=2)
        else:
            reply = codec.build_frame(address, 0xD1, bytes([0x02]), preamble=2)
        writer.write(b"\x00" + reply[:7])  # noise, then the reply in two pieces
        await writer.drain()
        writer.write(reply[7:])
        await writer.drain()


METERS = {
    "000000000161": {
        "00010000": bytes([0x26, 0x00, 0x00, 0x00]),
        "00020000": bytes([0x50, 0x34, 0x12, 0x00]),
        "02030000": bytes([0x34, 0x12, 0x00]),
    },
    "123456789012": {"00010000": bytes([0x99, 0x99, 0x99, 0x99])},  # no export, no power DI
    "000000000999": {"00010000": bytes([0x01, 0x00, 0x00, 0x00])},  # made silent below
}


def _config(port: int, **overrides: Any) -> Config:
    doc: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "timeout_s": 0.3,
        "retries": 1,
        "interval_s": 0.05,
        "meters": [
            {"meter": "E-1", "address": "000000000161"},
            {"meter": "E-2", "address": "123456789012"},
            {"meter": "E-9", "address": "000000000999", "dis": ["00010000"]},
        ],
    }
    return Config.model_validate(doc | overrides)


def test_driver_polls_simulator_over_tcp(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="edge.drivers.dlt645")

    async def scenario() -> None:
        sim = MeterSimulator(METERS, echo=True)
        sim.silent.add("000000000999")
        port = await sim.start()
        driver = create(_config(port))
        readings = await driver.poll()
        got = {(r.meter, r.quantity): r.value for r in readings}
        assert got == {
            ("E-1", "energy_import"): 0.26,
            ("E-1", "energy_export"): 1234.5,
            ("E-1", "active_power"): 0.1234,
            ("E-2", "energy_import"): 999999.99,
        }
        assert all(r.time.utcoffset() is not None for r in readings)
        # the silent meter was asked 1 + retries times
        assert sum(1 for d in sim.requests if d == codec.encode_di("00010000")) == 2 + 2
        await driver.link.close()
        await sim.stop()

    asyncio.run(asyncio.wait_for(scenario(), 20))
    problems = [getattr(r, "problem", "") for r in caplog.records]
    assert any("no such data" in p for p in problems)  # E-2 has no export register
    assert any("no valid answer" in p for p in problems)  # E-9 is silent


def test_driver_run_emits_and_stops() -> None:
    async def scenario() -> None:
        sim = MeterSimulator({"000000000161": METERS["000000000161"]})
        port = await sim.start()
        config = _config(port, meters=[{"meter": "E-1", "address": "AAAAAAAAAAAA"}])
        stop, batches = asyncio.Event(), []

        async def emit(readings: Any) -> None:
            batches.append(list(readings))
            if len(batches) == 2:
                stop.set()

        await create(config).run(emit, stop)
        assert [len(b) for b in batches] == [3, 3]
        await sim.stop()

    asyncio.run(asyncio.wait_for(scenario(), 20))


def test_driver_survives_link_down() -> None:
    async def scenario() -> None:
        sim = MeterSimulator(METERS)
        port = await sim.start()
        await sim.stop()  # nothing listens on the port any more
        driver = create(_config(port))
        assert await driver.poll() == []
        with pytest.raises(DeviceError, match="cannot open"):
            await driver.read("000000000161", "00010000")

    asyncio.run(asyncio.wait_for(scenario(), 20))


def test_serial_link_through_a_mock_boundary(monkeypatch: pytest.MonkeyPatch) -> None:
    """No RS-485 port exists here: the pyserial-asyncio boundary (`open_serial`) is replaced by a
    TCP connection to the simulator; the serial settings reach the boundary unchanged."""
    opened: list[dict[str, Any]] = []

    async def scenario() -> None:
        sim = MeterSimulator({"000000000161": METERS["000000000161"]})
        port = await sim.start()

        async def fake_open_serial(**settings: Any) -> Any:
            opened.append(settings)
            return await asyncio.open_connection("127.0.0.1", port)

        monkeypatch.setattr(link_module, "open_serial", fake_open_serial)
        config = Config.model_validate(
            {
                "transport": "serial",
                "serial_port": "/dev/ttyUSB7",
                "timeout_s": 0.5,
                "meters": [{"meter": "E-1", "address": "000000000161", "dis": ["00010000"]}],
            }
        )
        driver = Dlt645Driver(config)
        assert isinstance(driver.link, link_module.SerialLink)
        readings = await driver.poll()
        assert [(r.quantity, r.value) for r in readings] == [("energy_import", 0.26)]
        await driver.link.close()
        await sim.stop()

    asyncio.run(asyncio.wait_for(scenario(), 20))
    assert opened == [
        {"url": "/dev/ttyUSB7", "baudrate": 2400, "bytesize": 8, "parity": "E", "stopbits": 1}
    ]


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="needs host"):
        Config.model_validate({"meters": [{"meter": "E", "address": "000000000001"}]})
    with pytest.raises(ValueError, match="no quantity for DI"):
        Config.model_validate(
            {
                "host": "h",
                "meters": [{"meter": "E", "address": "000000000001", "dis": ["02010100"]}],
            }
        )
    with pytest.raises(ValueError):
        Config.model_validate({"host": "h", "meters": [{"meter": "E", "address": "12345"}]})
