"""HJ 212-2017: the protocols.md vectors, golden cases, framing, tolerances, the TCP server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carbonledger.errors import ChecksumError, FrameError, FramingError, LengthError
from carbonledger.wire import Quality, Reading
from edge.decode import decode_hj212
from edge.drivers.hj212 import Config, DeviceConfig, codec, create, readings_of
from edge.drivers.hj212.codec import Tolerance

EXAMPLE_1 = (
    b"##0101QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;"
    b"CP=&&RtdInterval=30&&1C80\r\n"
)
EXAMPLE_2 = (
    b"##0318QN=20240123123950241;ST=31;CN=2011;PW=123456;MN=81733553216103;Flag=4;CP=&&"
    b"DataTime=20240122081600;a00000-Rtd=5.407,a00000-Flag=N;a01011-Rtd=7.072,a01011-Flag=N;"
    b"a01013-Rtd=-0.052,a01013-Flag=N;a01012-Rtd=6.480,a01012-Flag=N;a24088-Rtd=0.804,"
    b"a24088-Flag=N;a05002-Rtd=0.000,a05002-Flag=N;a01014-Rtd=0.970,a01014-Flag=N&&6740"
)
SEGMENT_379 = (
    b"QN=20180427125809000;ST=22;CN=2011;PW=123456;MN=LXHB0CS0306310;Flag=5;CP=&&"
    b"DataTime=20180427125809;a34004-Rtd=75600.000,a34004-Flag=N;a34002-Rtd=140600.000,"
    b"a34002-Flag=N;a34001-Rtd=178000.000,a34001-Flag=N;a01001-Rtd=24.8,a01001-Flag=N;"
    b"a01002-Rtd=46.8,a01002-Flag=N;a01006-Rtd=101.380,a01006-Flag=N;a01007-Rtd=0.0,"
    b"a01007-Flag=N;a01008-Rtd=25,a01008-Flag=N;LA-Rtd=57.9,LA-Flag=N&&"
)
TESTCASES = Path(__file__).parents[2] / "edge" / "drivers" / "hj212" / "testcases"


# -- protocols.md vectors ------------------------------------------------------------------------


def test_crc_vectors() -> None:
    assert codec.crc16(b"123456789") == 0x2F80
    assert len(SEGMENT_379) == 379
    assert codec.crc16(SEGMENT_379) == 0x5440
    assert codec.crc16_modbus(b"123456789") == 0x4B37  # the variant it is NOT


def test_example_packets_decode() -> None:
    one = codec.decode(EXAMPLE_1)
    assert (one.qn, one.st, one.cn, one.pw, one.flag) == (
        "20160801085857223",
        "32",
        "1062",
        "100000",
        5,
    )
    assert one.mn == "010000A8900016F000169DC0"
    assert one.answer_requested and one.params == {"RtdInterval": "30"}
    two = codec.decode(EXAMPLE_2)  # captured without its CRLF
    assert two.data_time is not None and two.data_time.isoformat() == "2024-01-22T08:16:00+08:00"
    assert two.pollutants["a01013"] == {"Rtd": -0.052, "Flag": "N"}
    assert len(two.pollutants) == 7 and not two.answer_requested


def test_encode_reproduces_the_examples() -> None:
    assert codec.encode(EXAMPLE_1[6:-6]) == EXAMPLE_1
    assert codec.encode(EXAMPLE_2[6:-4]) == EXAMPLE_2 + b"\r\n"


def test_data_answer_9014() -> None:
    answer = codec.data_answer(codec.decode(EXAMPLE_1))
    segment = (
        b"QN=20160801085857223;ST=91;CN=9014;PW=100000;MN=010000A8900016F000169DC0;Flag=4;CP=&&&&"
    )
    assert answer == b"##%04d%s%04X\r\n" % (len(segment), segment, codec.crc16(segment))
    back = codec.decode(answer)
    assert (back.qn, back.st, back.cn, back.flag, back.pollutants) == (
        "20160801085857223",
        "91",
        "9014",
        4,
        {},
    )


# -- golden cases --------------------------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(p.stem for p in TESTCASES.glob("*.txt")))
def test_golden(case: str) -> None:
    raw = (TESTCASES / f"{case}.txt").read_bytes()
    expected = json.loads((TESTCASES / f"{case}.json").read_text())
    try:
        got = decode_hj212(raw)
    except FrameError as exc:
        got = {"error": str(exc)}
    assert got == expected


def test_golden_cases_exist() -> None:
    assert len(list(TESTCASES.glob("*.txt"))) >= 10


# -- errors and tolerances -----------------------------------------------------------------------


def _variant(segment: bytes, crc: int, length: int | None = None) -> bytes:
    return b"##%04d%s%04X\r\n" % (len(segment) if length is None else length, segment, crc)


SEG = EXAMPLE_2[6:-4]


def test_wrong_crc_names_expected_and_got() -> None:
    with pytest.raises(ChecksumError, match="expected 6740, got 6741") as info:
        codec.decode(EXAMPLE_2[:-1] + b"1")
    assert (info.value.expected, info.value.got) == ("6740", "6741")


def test_crc_compared_case_insensitively() -> None:
    packet = codec.encode(b"ST=31;CN=2011;PW=1;MN=X;CP=&&&&")
    assert codec.decode(packet[:-6] + packet[-6:-2].lower() + b"\r\n").mn == "X"


@pytest.mark.parametrize(
    ("packet", "tolerance", "error"),
    [
        (_variant(SEG, codec.crc16_modbus(SEG)), Tolerance.MODBUS_CRC, ChecksumError),
        (_variant(SEG, 0x4067), Tolerance.SWAPPED_CRC, ChecksumError),
        (_variant(SEG, 0x6740, 300), Tolerance.WRONG_LENGTH, LengthError),
    ],
)
def test_tolerances_off_reject_on_accept(
    packet: bytes, tolerance: Tolerance, error: type[FrameError]
) -> None:
    with pytest.raises(error):
        codec.decode(packet)
    with pytest.raises(error):  # another tolerance does not help
        codec.decode(
            packet,
            ~tolerance & (Tolerance.MODBUS_CRC | Tolerance.SWAPPED_CRC | Tolerance.WRONG_LENGTH),
        )
    decoded = codec.decode(packet, tolerance)
    assert decoded.tolerated == tolerance and decoded.mn == "81733553216103"


def test_swapped_modbus_crc_needs_both_tolerances() -> None:
    crc = codec.crc16_modbus(SEG)
    packet = _variant(SEG, ((crc & 0xFF) << 8) | (crc >> 8))
    with pytest.raises(ChecksumError):
        codec.decode(packet, Tolerance.MODBUS_CRC)
    both = Tolerance.MODBUS_CRC | Tolerance.SWAPPED_CRC
    assert codec.decode(packet, both).tolerated == both


@pytest.mark.parametrize(
    "bad",
    [
        b"##01x1QN=1;ST=1;CN=1;PW=1;MN=1;CP=&&&&0000",
        b"##0004abcdZZZZ",
        b"#0101",
        codec.encode(b"ST=31;PW=1;MN=X;CP=&&&&"),  # no CN
        codec.encode(b"ST=31;CN=2011;PW=1;MN=X;Flag=x;CP=&&&&"),
        codec.encode(b"ST=31;CN=2011;PW=1;MN=X;CP=&&DataTime=2024;a-Rtd=1&&"),
        codec.encode(b"ST=31;CN=2011;PW=1;MN=X;CP=&&a01012-Rtd&&"),
        codec.encode("ST=31;CN=2011;PW=1;MN=甲;CP=&&&&".encode()),
    ],
)
def test_malformed_packets_raise_framing_errors(bad: bytes) -> None:
    with pytest.raises(FramingError):
        codec.decode(bad)


def test_standard_2011_example_ends_cp_with_a_separator() -> None:
    raw = (TESTCASES / "example_2011_trailing_separator.txt").read_bytes()
    assert raw.endswith(b"LA-Flag=N;&&8EC1\r\n")
    assert codec.crc16(raw[6:-6]) == 0x8EC1
    packet = codec.decode(raw)
    assert (packet.qn, packet.st, packet.cn, packet.mn) == (
        "20160801085000001",
        "22",
        "2011",
        "010000A8900016F000169DC0",
    )
    assert packet.pollutants["LA"] == {"Rtd": 50.1, "Flag": "N"}


@pytest.mark.parametrize(
    "cp",
    [b"a-Rtd=1;&&", b"a-Rtd=1,a-Flag=N,&&", b"a-Rtd=1,a-Flag=N,;&&", b"a-Rtd=1&&;"],
)
def test_one_trailing_separator_is_accepted(cp: bytes) -> None:
    packet = codec.decode(codec.encode(b"ST=31;CN=2011;PW=1;MN=X;CP=&&" + cp))
    assert packet.pollutants["a"]["Rtd"] == 1.0


@pytest.mark.parametrize(
    "cp",
    [
        b"a-Rtd=1;;b-Rtd=2&&",
        b"a-Rtd=1,,a-Flag=N&&",
        b";a-Rtd=1&&",
        b"a-Rtd=1;;&&",
        b";&&",
        b"a-Rtd=1&&;;",
    ],
)
def test_an_empty_field_elsewhere_is_refused(cp: bytes) -> None:
    with pytest.raises(FramingError):
        codec.decode(codec.encode(b"ST=31;CN=2011;PW=1;MN=X;CP=&&" + cp))


def test_an_empty_header_item_is_refused() -> None:
    with pytest.raises(FramingError, match="header item ''"):
        codec.decode(codec.encode(b"ST=31;CN=2011;PW=1;MN=X;;CP=&&a-Rtd=1&&"))


def test_non_numeric_value_kept_as_text() -> None:
    packet = codec.decode(codec.encode(b"ST=31;CN=2011;PW=1;MN=X;CP=&&a01012-Rtd=nan,x-Rtd=&&"))
    assert packet.pollutants == {"a01012": {"Rtd": "nan"}, "x": {"Rtd": ""}}


# -- framing over a stream -----------------------------------------------------------------------


def test_framer_split_coalesced_and_garbage() -> None:
    framer = codec.PacketFramer()
    stream = b"\x00junk##12##" + EXAMPLE_1 + EXAMPLE_2 + b"\r\n" + b"#" + EXAMPLE_1
    packets: list[bytes] = []
    errors: list[FrameError] = []
    for i in range(0, len(stream), 7):
        for item in framer.feed(stream[i : i + 7]):
            (errors if isinstance(item, FrameError) else packets).append(item)  # type: ignore[arg-type]
    assert packets == [EXAMPLE_1, EXAMPLE_2 + b"\r\n", EXAMPLE_1]
    assert errors and all(isinstance(e, FramingError) for e in errors)
    assert framer.feed(EXAMPLE_1 * 3) == [EXAMPLE_1] * 3


def test_framer_max_length_guard() -> None:
    framer = codec.PacketFramer(max_length=100)
    items = framer.feed(b"##9999" + b"x" * 200)
    assert any(isinstance(i, FramingError) and "no CRLF" in str(i) for i in items)
    assert framer.feed(EXAMPLE_1) == [EXAMPLE_1]


# -- fuzzing -------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_fuzz_decode_arbitrary_bytes(data: bytes) -> None:
    with contextlib.suppress(FrameError):
        codec.decode(data, Tolerance.MODBUS_CRC | Tolerance.SWAPPED_CRC | Tolerance.WRONG_LENGTH)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_fuzz_mutated_valid_packets(data: st.DataObject) -> None:
    packet = bytearray(data.draw(st.sampled_from([EXAMPLE_1, EXAMPLE_2 + b"\r\n"])))
    for _ in range(data.draw(st.integers(1, 4))):
        packet[data.draw(st.integers(0, len(packet) - 1))] = data.draw(st.integers(0, 255))
    with contextlib.suppress(FrameError):
        codec.decode(bytes(packet))
    with contextlib.suppress(FrameError):  # the segment parser alone
        codec.parse_segment(bytes(packet)[6:-6])


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.integers(1, 64))
def test_fuzz_framer_never_loses_a_packet_after_garbage(garbage: bytes, chunk: int) -> None:
    framer = codec.PacketFramer()
    stream = garbage + EXAMPLE_1
    items: list[bytes | FrameError] = []
    for i in range(0, len(stream), chunk):
        items += framer.feed(stream[i : i + chunk])
    packets = [i for i in items if isinstance(i, bytes)]
    assert packets and packets[-1] == EXAMPLE_1


# -- readings ------------------------------------------------------------------------------------


def _stack(**overrides: object) -> DeviceConfig:
    return DeviceConfig.model_validate({"mn": "STACK01", "meter": "cems-1", **overrides})


def test_readings_units_and_quality() -> None:
    segment = (
        "QN=20240301100000000;ST=31;CN=2061;PW=123456;MN=STACK01;Flag=4;CP=&&"
        "DataTime=20240301090000;a05001-Avg=10.5,a05001-Flag=N;a19001-Avg=9.8,a19001-Flag=S;"
        "a00000-Avg=30.2,a00000-Flag=M;a01013-Avg=-0.052;a01012-Avg=120.0,a01012-Flag=D;"
        "a01014-Avg=8.1,a01014-Flag=Q;a21026-Avg=12.0,a21026-Flag=N&&"
    )
    packet = codec.decode(codec.encode(segment))
    got = {r.quantity: r for r in readings_of(packet, _stack(co2_unit="%"))}
    assert got["co2_concentration"].value == pytest.approx(10.5 * 19_647)
    assert got["o2_concentration"] == Reading(
        "cems-1",
        "o2_concentration",
        packet.data_time,
        9.8,
        Quality.ESTIMATED,  # type: ignore[arg-type]
    )
    assert got["flue_gas_flow"].value == pytest.approx(30.2 * 3600)
    assert got["flue_gas_flow"].quality is Quality.BAD
    assert got["flue_gas_pressure"].value == pytest.approx(-52.0)
    assert got["flue_gas_pressure"].quality is Quality.GOOD  # no data flag: as measured
    assert got["flue_gas_temperature"].quality is Quality.BAD
    assert got["flue_gas_moisture"].quality is Quality.BAD  # unknown flag
    assert len(got) == 6  # SO2 is not a wire quantity
    assert str(got["co2_concentration"].time) == "2024-03-01 09:00:00+08:00"
    plain = {
        r.quantity: r.value
        for r in readings_of(packet, _stack(pressure_unit="Pa", flow_unit="m3/h"))
    }
    assert plain["co2_concentration"] == 10.5 and plain["flue_gas_pressure"] == -0.052
    assert plain["flue_gas_flow"] == 30.2
    assert readings_of(packet, _stack(commands=["2011"])) == []  # hourly data not wanted


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="configured twice"):
        Config.model_validate({"devices": [{"mn": "A", "meter": "m"}, {"mn": "A", "meter": "n"}]})
    with pytest.raises(ValueError):
        DeviceConfig.model_validate({"mn": "A", "meter": "m", "tolerances": ["sloppy"]})


# -- the server over real TCP --------------------------------------------------------------------


class Sink:
    def __init__(self) -> None:
        self.batches: list[list[Reading]] = []
        self.changed = asyncio.Event()

    async def __call__(self, readings: Sequence[Reading]) -> None:
        self.batches.append(list(readings))
        self.changed.set()


async def _read_answer(reader: asyncio.StreamReader) -> codec.Packet:
    line = await asyncio.wait_for(reader.readuntil(b"\r\n"), 5)
    return codec.decode(line)


def _packet(mn: str, qn: str, flag: int = 5, crc: str = "hj212") -> bytes:
    segment = (
        f"QN={qn};ST=31;CN=2011;PW=123456;MN={mn};Flag={flag};CP=&&DataTime=20240301100000;"
        "a05001-Rtd=10.0,a05001-Flag=N;a01012-Rtd=80.5,a01012-Flag=N&&"
    ).encode()
    value = codec.crc16(segment) if crc == "hj212" else codec.crc16_modbus(segment)
    return b"##%04d%s%04X\r\n" % (len(segment), segment, value)


def test_server_over_tcp(caplog: pytest.LogCaptureFixture) -> None:
    config = Config.model_validate(
        {
            "host": "127.0.0.1",
            "port": 0,
            "devices": [
                {"mn": "STACK01", "meter": "cems-1", "co2_unit": "%"},
                {"mn": "STACK02", "meter": "cems-2", "tolerances": ["modbus-crc"]},
                {"mn": "STACK03", "meter": "cems-3", "password": "secret"},
            ],
        }
    )
    caplog.set_level(logging.INFO, logger="edge.drivers.hj212")
    asyncio.run(asyncio.wait_for(_server_scenario(config), 20))
    messages = [r.getMessage() for r in caplog.records]
    assert "hj212 deviation tolerated" in messages
    assert "hj212 packet rejected" in messages  # STACK01 sent a CRC-16/MODBUS packet
    assert "hj212 packet from unknown MN dropped" in messages
    assert "hj212 wrong password, packet dropped" in messages
    assert "hj212 packet passed over (not a data command)" in messages


async def _server_scenario(config: Config) -> None:
    server = create(config)
    sink, stop = Sink(), asyncio.Event()
    task = asyncio.create_task(server.run(sink, stop))
    await server.ready.wait()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    one, two = _packet("STACK01", "20240301100000001"), _packet("STACK01", "20240301100000002")
    # split across writes, with garbage in front, then two packets coalesced in one write
    writer.write(b"noise\r\n" + one[:10])
    await writer.drain()
    await asyncio.sleep(0)
    writer.write(one[10:50])
    await writer.drain()
    writer.write(one[50:] + two + _packet("STACK02", "20240301100000003", crc="modbus"))
    await writer.drain()
    answers = [await _read_answer(reader) for _ in range(3)]
    assert [(a.qn, a.st, a.cn, a.flag) for a in answers] == [
        ("20240301100000001", "91", "9014", 4),
        ("20240301100000002", "91", "9014", 4),
        ("20240301100000003", "91", "9014", 4),
    ]
    assert [(r.meter, r.quantity, r.value) for r in sink.batches[0]] == [
        ("cems-1", "co2_concentration", 10.0 * 19_647),
        ("cems-1", "flue_gas_temperature", 80.5),
    ]
    assert sink.batches[2][0].meter == "cems-2"
    # rejected packets get no answer and no readings; a no-answer packet is stored silently
    writer.write(_packet("STACK01", "20240301100000004", crc="modbus"))  # tolerance off
    writer.write(_packet("UNKNOWN", "20240301100000005"))
    writer.write(_packet("STACK03", "20240301100000006"))  # wrong password
    writer.write(codec.encode(b"QN=7;ST=91;CN=9013;PW=123456;MN=STACK01;Flag=5;CP=&&&&"))
    writer.write(_packet("STACK01", "20240301100000008", flag=4))
    writer.write(_packet("STACK01", "20240301100000009"))
    await writer.drain()
    answers = [await _read_answer(reader) for _ in range(2)]
    assert [a.qn for a in answers] == ["7", "20240301100000009"]
    assert len(sink.batches) == 5
    writer.close()
    stop.set()
    await task
