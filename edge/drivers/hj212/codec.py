"""HJ 212-2017 packets: CRC, framing over a byte stream, data-segment parsing, the 9014 answer.

Pure functions of bytes, no I/O: the server, the decode command and the tests share them. Every
error is a :class:`~carbonledger.errors.FrameError` (checksum, length, framing), so a caller that
catches that branch catches everything a malformed packet can cause.

Packet: ``##`` + 4-digit decimal length of the data segment + data segment + 4 hex digits CRC +
``\\r\\n``. The length counts the data segment only, and the CRC covers it only. Field devices
deviate in known ways (CRC-16/MODBUS instead of the Appendix A CRC, swapped CRC bytes, a wrong
declared length): each is rejected unless the device is configured with the matching
:class:`Tolerance`, and a decoded :class:`Packet` says which tolerance it needed so the caller can
log it.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field, replace
from datetime import datetime

from carbonledger.errors import ChecksumError, FrameError, FramingError, LengthError
from carbonledger.tz import SHANGHAI

__all__ = [
    "MAX_PACKET",
    "NUMERIC_EXCLUDED",
    "SHANGHAI",
    "Packet",
    "PacketFramer",
    "Tolerance",
    "crc16",
    "crc16_modbus",
    "data_answer",
    "decode",
    "encode",
    "parse_segment",
    "parse_time",
    "parse_tolerances",
    "peek_mn",
    "tolerance_names",
    "unframe",
]

MAX_SEGMENT = 9999  # the length field has four decimal digits
MAX_PACKET = 2 + 4 + MAX_SEGMENT + 4 + 2
FLAG_ANSWER = 0x01  # bit A: the sender asks for an answer
FLAG_PACKETS = 0x02  # bit D: PNUM/PNO present
NUMERIC_EXCLUDED = frozenset({"Flag", "EFlag", "SampleTime"})  # suffixes that stay text
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_HEX4 = re.compile(rb"[0-9A-Fa-f]{4}")
_MN = re.compile(rb"(?:^|;)MN=([^;]*)")


class Tolerance(enum.Flag):
    """Per-device opt-in deviations from the standard; all off by default."""

    NONE = 0
    MODBUS_CRC = enum.auto()  # CRC-16/MODBUS (``crc ^= byte``) instead of Appendix A
    SWAPPED_CRC = enum.auto()  # the two CRC bytes printed low byte first
    WRONG_LENGTH = enum.auto()  # the declared length differs from the data segment's


def crc16(data: bytes) -> int:
    """The HJ 212-2017 Appendix A CRC: ``crc = (crc >> 8) ^ byte`` (not CRC-16/MODBUS)."""
    crc = 0xFFFF
    for byte in data:
        crc = (crc >> 8) ^ byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def crc16_modbus(data: bytes) -> int:
    """CRC-16/MODBUS (``crc ^= byte``), which some loggers send instead of the Appendix A CRC."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def _swap(crc: int) -> int:
    return ((crc & 0xFF) << 8) | (crc >> 8)


def encode(segment: str | bytes) -> bytes:
    """Frame a data segment: ``##`` + length + segment + CRC (upper-case hex) + CRLF."""
    data = segment.encode("ascii") if isinstance(segment, str) else segment
    if len(data) > MAX_SEGMENT:
        raise FramingError(f"data segment of {len(data)} bytes exceeds {MAX_SEGMENT}")
    return b"##%04d%s%04X\r\n" % (len(data), data, crc16(data))


def peek_mn(packet: bytes) -> str | None:
    """The MN of an unverified packet, to choose the sending device's tolerances before checking."""
    match = _MN.search(packet)
    return match.group(1).decode("ascii", "replace") if match else None


def unframe(packet: bytes, tolerances: Tolerance = Tolerance.NONE) -> tuple[bytes, Tolerance]:
    """Check one packet's markers, length and CRC; return its data segment and what was tolerated.

    The trailing CRLF is optional (captures often lose it). Raises :class:`LengthError`,
    :class:`ChecksumError` or :class:`FramingError`.
    """
    body = packet[:-2] if packet.endswith(b"\r\n") else packet
    if not body.startswith(b"##"):
        raise FramingError("packet does not start with '##'")
    if len(body) < 10:
        raise FramingError(f"packet of {len(body)} bytes is too short for '##', length and CRC")
    declared, segment, crc_text = body[2:6], body[6:-4], body[-4:]
    if not declared.isdigit():
        raise FramingError(f"length field {declared.decode('ascii', 'replace')!r} is not 4 digits")
    if not _HEX4.fullmatch(crc_text):
        raise FramingError(f"CRC field {crc_text.decode('ascii', 'replace')!r} is not 4 hex digits")
    tolerated = Tolerance.NONE
    if int(declared) != len(segment):
        if Tolerance.WRONG_LENGTH not in tolerances:
            raise LengthError(f"declared length {int(declared)}, data segment has {len(segment)}")
        tolerated |= Tolerance.WRONG_LENGTH
    return segment, tolerated | _check_crc(segment, int(crc_text, 16), tolerances)


def _check_crc(segment: bytes, got: int, tolerances: Tolerance) -> Tolerance:
    expected = crc16(segment)
    if got == expected:
        return Tolerance.NONE
    candidates = [(Tolerance.SWAPPED_CRC, _swap(expected))]
    if Tolerance.MODBUS_CRC in tolerances:
        modbus = crc16_modbus(segment)
        candidates += [
            (Tolerance.MODBUS_CRC, modbus),
            (Tolerance.MODBUS_CRC | Tolerance.SWAPPED_CRC, _swap(modbus)),
        ]
    for needed, value in candidates:
        if got == value and needed in tolerances:
            return needed
    raise ChecksumError("CRC", f"{expected:04X}", f"{got:04X}")


@dataclass(frozen=True, slots=True)
class Packet:
    """A decoded data segment. ``pollutants`` maps a code to its fields (suffix → value).

    Values of numeric fields (Rtd, Avg, Cou, ZsRtd...) are floats; Flag, EFlag, SampleTime and any
    value that is not a number stay text, so one odd field never loses the packet.
    """

    st: str
    cn: str
    pw: str
    mn: str
    qn: str | None = None
    flag: int | None = None
    pnum: int | None = None
    pno: int | None = None
    data_time: datetime | None = None
    pollutants: dict[str, dict[str, float | str]] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)  # CP items without a code (RtdInterval)
    tolerated: Tolerance = Tolerance.NONE

    @property
    def answer_requested(self) -> bool:
        return self.flag is not None and bool(self.flag & FLAG_ANSWER)

    def as_json(self) -> dict[str, object]:
        """The packet as the decode command prints it (HJ 212 field names)."""
        doc: dict[str, object] = {"QN": self.qn, "ST": self.st, "CN": self.cn, "PW": self.pw}
        doc |= {"MN": self.mn, "Flag": self.flag}
        if self.pnum is not None:
            doc |= {"PNUM": self.pnum, "PNO": self.pno}
        doc["DataTime"] = self.data_time.isoformat() if self.data_time else None
        doc["pollutants"] = self.pollutants
        if self.params:
            doc["params"] = self.params
        if self.tolerated:
            doc["tolerated"] = tolerance_names(self.tolerated)
        return doc


def tolerance_names(tolerances: Tolerance) -> list[str]:
    """``MODBUS_CRC`` → ``modbus-crc``: the spelling of config files and log lines."""
    return [str(t.name).lower().replace("_", "-") for t in Tolerance if t in tolerances]


def parse_tolerances(names: list[str]) -> Tolerance:
    """The inverse of :func:`tolerance_names`; an unknown name raises ``ValueError``."""
    result = Tolerance.NONE
    for name in names:
        try:
            result |= Tolerance[name.strip().upper().replace("-", "_")]
        except KeyError:
            known = ", ".join(tolerance_names(~Tolerance.NONE))
            raise ValueError(f"unknown tolerance {name!r}; choose from {known}") from None
    return result


def decode(packet: bytes, tolerances: Tolerance = Tolerance.NONE) -> Packet:
    """Unframe and parse one packet (see :func:`unframe` and :func:`parse_segment`)."""
    segment, tolerated = unframe(packet, tolerances)
    parsed = parse_segment(segment)
    return replace(parsed, tolerated=tolerated) if tolerated else parsed


def parse_segment(segment: bytes) -> Packet:
    """Parse ``QN=..;ST=..;CN=..;PW=..;MN=..;Flag=..;[PNUM=..;PNO=..;]CP=&&...&&``.

    One trailing separator is accepted where loggers send it: after the last CP item (``;&&``),
    after a pollutant's last field (``a01012-Flag=N,;``) and after the CP block (``&&;``).
    """
    try:
        text = segment.decode("ascii")
    except UnicodeDecodeError as exc:
        raise FramingError(f"data segment is not ASCII (byte {exc.start})") from None
    head, sep, rest = text.partition("CP=&&")
    if rest.endswith("&&;"):
        rest = rest[:-1]
    if not sep or not rest.endswith("&&"):
        raise FramingError("data segment has no 'CP=&&...&&'")
    if head and not head.endswith(";"):
        raise FramingError("'CP=' is not preceded by ';'")
    fields = _header(head[:-1])
    for key in ("ST", "CN", "PW", "MN"):
        if key not in fields:
            raise FramingError(f"data segment has no {key}")
    flag = _int_field(fields, "Flag")
    data_time, pollutants, params = _cp(rest[:-2])
    return Packet(
        st=fields["ST"],
        cn=fields["CN"],
        pw=fields["PW"],
        mn=fields["MN"],
        qn=fields.get("QN"),
        flag=flag,
        pnum=_int_field(fields, "PNUM"),
        pno=_int_field(fields, "PNO"),
        data_time=data_time,
        pollutants=pollutants,
        params=params,
    )


def _items(text: str, separator: str) -> list[str]:
    """Split on ``separator``, accepting one trailing separator (``a=1;b=2;``) as loggers send it.

    The standard's own 2011 example ends its CP with ``;&&``. An empty item anywhere else
    (``a=1;;b=2``, a leading ``;``) is left in the list, so the caller refuses it as not
    ``key=value``: that is a damaged packet, not a habit of a logger.
    """
    items = text.split(separator)
    return items[:-1] if len(items) > 1 and not items[-1] else items


def _header(head: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for item in head.split(";") if head else []:
        key, eq, value = item.partition("=")
        if not eq:
            raise FramingError(f"header item {item!r} is not key=value")
        if key in fields:
            raise FramingError(f"header field {key} appears twice")
        fields[key] = value
    return fields


def _int_field(fields: dict[str, str], key: str) -> int | None:
    value = fields.get(key)
    if value is None:
        return None
    if not value.isdigit() or len(value) > 9:
        raise FramingError(f"{key}={value!r} is not a small whole number")
    return int(value)


def _cp(cp: str) -> tuple[datetime | None, dict[str, dict[str, float | str]], dict[str, str]]:
    """Split CP into DataTime, per-pollutant fields (``code-Suffix=value``) and other items."""
    data_time: datetime | None = None
    pollutants: dict[str, dict[str, float | str]] = {}
    params: dict[str, str] = {}
    for item in _items(cp, ";") if cp else []:
        for part in _items(item, ","):
            key, eq, value = part.partition("=")
            if not eq:
                raise FramingError(f"CP field {part!r} is not key=value")
            code, dash, suffix = key.rpartition("-")
            if key == "DataTime":
                data_time = parse_time(value)
            elif dash and code and suffix:
                pollutants.setdefault(code, {})[suffix] = _value(suffix, value)
            else:
                params[key] = value
    return data_time, pollutants, params


def _value(suffix: str, value: str) -> float | str:
    if suffix in NUMERIC_EXCLUDED or not _NUMBER.fullmatch(value):
        return value
    return float(value)


def parse_time(value: str) -> datetime:
    """``YYYYMMDDhhmmss`` (a 17-digit QN-style time is cut to seconds) in Asia/Shanghai."""
    if not value.isdigit() or len(value) not in (14, 17):
        raise FramingError(f"DataTime {value!r} is not YYYYMMDDhhmmss")
    try:
        return datetime.strptime(value[:14], "%Y%m%d%H%M%S").replace(tzinfo=SHANGHAI)
    except ValueError:
        raise FramingError(f"DataTime {value!r} is not a valid time") from None


def data_answer(packet: Packet) -> bytes:
    """The 9014 data answer the platform sends when a packet's Flag has bit A set.

    ``QN`` is echoed (left out when the request had none), ``ST=91``, ``Flag=4`` (2017, no answer
    requested), and an empty ``CP=&&&&``; framed with its length and CRC.
    """
    qn = f"QN={packet.qn};" if packet.qn is not None else ""
    segment = f"{qn}ST=91;CN=9014;PW={packet.pw};MN={packet.mn};Flag=4;CP=&&&&"
    return encode(segment.encode("ascii", "replace"))


class PacketFramer:
    """Cut packets out of a TCP byte stream.

    A packet runs from the last ``##`` before a CRLF to that CRLF, so packets split across reads,
    several in one read, and garbage in between (even garbage containing ``##``) never hide a
    valid packet; the length is checked afterwards by :func:`unframe`. Bytes skipped on the way
    are reported as :class:`FramingError` items; an unterminated packet longer than
    ``max_length`` is dropped with an error so the buffer stays bounded.
    """

    def __init__(self, max_length: int = MAX_PACKET) -> None:
        self.max_length = max_length
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes | FrameError]:
        self._buffer += data
        out: list[bytes | FrameError] = []
        while self._buffer:
            if not self._next(out):
                break
        return out

    def _next(self, out: list[bytes | FrameError]) -> bool:
        """Take one packet or one run of garbage from the buffer; False when more data is needed."""
        buf = self._buffer
        end = buf.find(b"\r\n")
        start = buf.rfind(b"##", 0, end) if end >= 0 else buf.find(b"##")
        if start > 0:
            out.append(FramingError(f"skipped {start} bytes before '##'"))
            del buf[:start]
            return True
        if start < 0:
            keep = 1 if buf.endswith(b"#") else 0
            if end >= 0 or len(buf) > keep:
                cut = end + 2 if end >= 0 else len(buf) - keep
                out.append(FramingError(f"skipped {cut} bytes without '##'"))
                del buf[:cut]
                return end >= 0
            return False
        if end < 0:
            if len(buf) > self.max_length:
                out.append(FramingError(f"no CRLF within {self.max_length} bytes after '##'"))
                del buf[:2]
                return True
            return False
        out.append(bytes(buf[: end + 2]))
        del buf[: end + 2]
        return True
