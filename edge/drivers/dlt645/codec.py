"""DL/T 645-2007 frames: requests, replies, error words and the data-identifier table.

Pure functions of bytes (no I/O). Frame: ``[FE…] 68 A0..A5 68 C L DATA CS 16`` with the address
as 12 BCD digits sent low byte first, every DATA byte sent +0x33, and CS the byte sum from the
first 0x68 to the last DATA byte. Every error is a :class:`~carbonledger.errors.FrameError`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import NamedTuple

from carbonledger.errors import ChecksumError, FrameError, FramingError, LengthError

WILDCARD = "AAAAAAAAAAAA"
BROADCAST = "999999999999"
MAX_DATA = 200  # the standard's limit for L in read replies
HEADER = 10  # 68 A0..A5 68 C L


class Function(enum.IntEnum):
    BROADCAST_TIME = 0x08
    READ = 0x11
    READ_FOLLOWUP = 0x12
    READ_ADDRESS = 0x13


REPLY = 0x80  # C bit 7: sent by the meter
ABNORMAL = 0x40  # C bit 6: error reply
FOLLOWUP = 0x20  # C bit 5: more frames follow

# Error word bits (DL/T 645-2007 §7.2 table): bit 0 is "other error".
ERROR_BITS = (
    "other error",
    "no such data",
    "password error or unauthorised",
    "baud rate cannot be changed",
    "too many annual time zones",
    "too many daily time periods",
    "too many tariffs",
    "reserved bit 7",
)


class Format(NamedTuple):
    """How a DI's value is encoded: BCD bytes, decimals, whether the top bit is a sign."""

    size: int
    decimals: int
    signed: bool
    unit: str
    name: str


def _table() -> dict[str, Format]:
    table = {
        "00000000": Format(4, 2, True, "kWh", "combined active energy, total"),
        "00010000": Format(4, 2, False, "kWh", "forward (import) active energy, total"),
        "00020000": Format(4, 2, False, "kWh", "reverse (export) active energy, total"),
        "02030000": Format(3, 4, True, "kW", "total active power"),
        "02060000": Format(2, 3, True, "", "total power factor"),
        "02800002": Format(2, 2, False, "Hz", "grid frequency"),
    }
    for phase, code in (("A", "01"), ("B", "02"), ("C", "03")):
        table[f"0201{code}00"] = Format(2, 1, False, "V", f"phase {phase} voltage")
        table[f"0202{code}00"] = Format(3, 3, True, "A", f"phase {phase} current")
    return table


DI_TABLE: dict[str, Format] = _table()
ADDRESS_DI = "04000401"  # communication address: 12 digits, low byte first


@dataclass(frozen=True, slots=True)
class Frame:
    """One checked frame: ``data`` already has 0x33 subtracted."""

    address: str
    control: int
    data: bytes

    @property
    def is_reply(self) -> bool:
        return bool(self.control & REPLY)

    @property
    def is_error(self) -> bool:
        return bool(self.control & ABNORMAL)

    @property
    def has_followup(self) -> bool:
        return bool(self.control & FOLLOWUP)

    @property
    def function(self) -> int:
        return self.control & 0x1F


class Value(NamedTuple):
    value: float | str  # a number, or text for the address DI
    unit: str
    text: str  # the BCD digits with the decimal point, as the meter shows it


# -- addresses, identifiers, BCD ----------------------------------------------------------------


def encode_address(address: str) -> bytes:
    """12 BCD digits (or the ``AA…`` wildcard) → 6 bytes, low byte first."""
    text = address.upper()
    if len(text) != 12 or not (text.isdigit() or text == WILDCARD):
        raise FramingError(f"address {address!r} is not 12 digits or {WILDCARD}")
    return bytes.fromhex(text)[::-1]


def decode_address(raw: bytes) -> str:
    """6 bytes, low byte first → 12 characters (BCD digits; ``A`` nibbles kept for wildcards)."""
    return raw[::-1].hex().upper()


def encode_di(di: str) -> bytes:
    if len(di) != 8:
        raise FramingError(f"data identifier {di!r} is not 8 hex digits")
    try:
        return bytes.fromhex(di)[::-1]
    except ValueError:
        raise FramingError(f"data identifier {di!r} is not 8 hex digits") from None


def decode_bcd(raw: bytes, signed: bool = False) -> tuple[str, bool]:
    """Little-endian packed BCD → its digits (most significant first) and the sign bit."""
    msb_first = bytearray(raw[::-1])
    negative = signed and bool(msb_first and msb_first[0] & 0x80)
    if negative:
        msb_first[0] &= 0x7F
    digits = msb_first.hex()
    if not digits.isdigit():
        raise FramingError(f"value bytes {raw.hex(' ').upper()} are not BCD")
    return digits, negative


def decode_value(di: str, raw: bytes) -> Value | None:
    """Decode a DI's value bytes by the table; ``None`` for a DI the table does not know."""
    if di == ADDRESS_DI:
        _expect_size(di, raw, 6)
        digits, _ = decode_bcd(raw)
        return Value(digits, "", digits)
    fmt = DI_TABLE.get(di)
    if fmt is None:
        return None
    _expect_size(di, raw, fmt.size)
    digits, negative = decode_bcd(raw, fmt.signed)
    cut = len(digits) - fmt.decimals
    text = ("-" if negative else "") + digits[:cut] + ("." + digits[cut:] if fmt.decimals else "")
    number = int(digits) / 10**fmt.decimals
    return Value(-number if negative else number, fmt.unit, text)


def _expect_size(di: str, raw: bytes, size: int) -> None:
    if len(raw) != size:
        raise LengthError(f"DI {di} carries {len(raw)} value bytes, expected {size}")


def error_names(word: int) -> list[str]:
    return [name for bit, name in enumerate(ERROR_BITS) if word & (1 << bit)]


# -- building requests --------------------------------------------------------------------------


def build_frame(address: str, control: int, data: bytes = b"", preamble: int = 0) -> bytes:
    """A complete frame: FE wake-up bytes, header, DATA +0x33, checksum, 0x16."""
    if len(data) > 255:
        raise LengthError(f"{len(data)} data bytes do not fit in L")
    body = b"\x68" + encode_address(address) + bytes([0x68, control, len(data)])
    body += bytes((b + 0x33) & 0xFF for b in data)
    return b"\xfe" * preamble + body + bytes([sum(body) & 0xFF, 0x16])


def read_request(address: str, di: str, preamble: int = 0) -> bytes:
    """0x11: read the value of ``di`` from ``address`` (``AAAAAAAAAAAA`` for any single meter)."""
    return build_frame(address, Function.READ, encode_di(di), preamble)


def read_followup_request(address: str, di: str, seq: int, preamble: int = 0) -> bytes:
    """0x12: ask for follow-up frame ``seq`` (1, 2, …) after a reply with the follow-up bit."""
    return build_frame(
        address, Function.READ_FOLLOWUP, encode_di(di) + bytes([seq & 0xFF]), preamble
    )


def read_address_request(preamble: int = 0) -> bytes:
    """0x13 to the wildcard address: the single meter on the bus answers with its address."""
    return build_frame(WILDCARD, Function.READ_ADDRESS, b"", preamble)


# -- parsing ------------------------------------------------------------------------------------


def parse_frame(raw: bytes) -> Frame:
    """Check and decode exactly one frame (FE preamble allowed, nothing after 0x16)."""
    start = 0
    while start < len(raw) and raw[start] == 0xFE:
        start += 1
    frame, end = _parse_at(raw, start)
    if frame is None:
        raise FramingError(f"frame truncated: {len(raw) - start} bytes after the preamble")
    if end != len(raw):
        raise LengthError(f"{len(raw) - end} bytes after the end byte 0x16")
    return frame


def _parse_at(raw: bytes, start: int) -> tuple[Frame | None, int]:
    """The frame at ``start``; ``(None, 0)`` when more bytes are needed. Raises if it is invalid."""
    if start >= len(raw):
        return None, 0
    if raw[start] != 0x68:
        raise FramingError(f"expected start byte 68, got {raw[start]:02X}")
    if len(raw) - start < HEADER:
        return None, 0
    if raw[start + 7] != 0x68:
        raise FramingError(f"expected second 68 after the address, got {raw[start + 7]:02X}")
    length = raw[start + 9]
    end = start + HEADER + length + 2
    if len(raw) < end:
        return None, 0
    expected = sum(raw[start : end - 2]) & 0xFF
    if raw[end - 2] != expected:
        raise ChecksumError("checksum", f"{expected:02X}", f"{raw[end - 2]:02X}")
    if raw[end - 1] != 0x16:
        raise FramingError(f"expected end byte 16, got {raw[end - 1]:02X}")
    data = bytes((b - 0x33) & 0xFF for b in raw[start + HEADER : end - 2])
    return Frame(decode_address(raw[start + 1 : start + 7]), raw[start + 8], data), end


class FrameReader:
    """Cut frames out of a byte stream (a DTU or serial line: echoes, noise, FE preambles).

    Every 0x68 is a candidate start; a candidate that turns out invalid is skipped one byte at a
    time, so a valid frame after noise is never lost. Errors of structurally complete candidates
    are returned so a driver can report "checksum expected AD, got 5A" after a timeout.
    """

    def __init__(self, limit: int = 1024) -> None:
        self.limit = limit
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Frame | FrameError]:
        self._buffer += data
        out: list[Frame | FrameError] = []
        pos = 0
        buf = bytes(self._buffer)
        pending = -1  # first incomplete candidate: keep from there
        while (pos := buf.find(b"\x68", pos)) >= 0:
            try:
                frame, end = _parse_at(buf, pos)
            except FrameError as exc:
                if not isinstance(exc, FramingError):
                    out.append(exc)
                pos += 1
                continue
            if frame is None:
                pending = pos if pending < 0 else pending
                pos += 1
                continue
            out.append(frame)
            buf, pos, pending = buf[end:], 0, -1
        keep = buf[pending:] if pending >= 0 else b""
        self._buffer = bytearray(keep[-self.limit :])
        return out


# -- interpreting replies -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reply:
    """What a frame means: its DI and decoded value, an error word, or a meter address."""

    frame: Frame
    kind: str  # "request", "reply", "error", "address", "other"
    di: str | None = None
    value: Value | None = None
    payload: bytes = b""  # value bytes after the DI (without a follow-up sequence byte)
    error_word: int | None = None
    seq: int | None = None  # follow-up sequence number in replies to 0x12

    @property
    def errors(self) -> list[str]:
        return error_names(self.error_word) if self.error_word is not None else []

    def as_json(self) -> dict[str, object]:
        doc: dict[str, object] = {
            "address": self.frame.address,
            "control": f"0x{self.frame.control:02X}",
            "kind": self.kind,
        }
        if self.frame.has_followup:
            doc["followup"] = True
        if self.di is not None:
            doc["di"] = self.di
        if self.seq is not None:
            doc["seq"] = self.seq
        if self.value is not None:
            doc |= {"value": self.value.value, "unit": self.value.unit, "text": self.value.text}
        elif self.kind == "reply":
            doc["raw"] = self.payload.hex().upper()
        if self.error_word is not None:
            doc |= {"error_word": self.error_word, "errors": self.errors}
        return doc


def interpret(frame: Frame) -> Reply:
    """Classify a frame and decode its data: 0x11/0x12/0x13 requests, 0x91/0xB1/0x92/0xB2
    replies, 0xD1/0xD2 error replies, 0x93 address replies."""
    function, data = frame.function, frame.data
    if not frame.is_reply:
        di = _di(data) if function in (Function.READ, Function.READ_FOLLOWUP) else None
        return Reply(frame, "request", di)
    if frame.is_error:
        if len(data) != 1:
            raise LengthError(f"error reply carries {len(data)} bytes, expected 1")
        return Reply(frame, "error", error_word=data[0])
    if function == Function.READ_ADDRESS:
        if len(data) != 6:
            raise LengthError(f"address reply carries {len(data)} bytes, expected 6")
        address = decode_address(data)
        return Reply(frame, "address", value=Value(address, "", address))
    if function in (Function.READ, Function.READ_FOLLOWUP):
        di = _di(data)
        payload, seq = data[4:], None
        if function == Function.READ_FOLLOWUP:
            if not payload:
                raise LengthError("follow-up reply has no sequence byte")
            payload, seq = payload[:-1], payload[-1]
        value = decode_value(di, payload) if not frame.has_followup and seq is None else None
        return Reply(frame, "reply", di, value, payload, seq=seq)
    return Reply(frame, "other")


def _di(data: bytes) -> str:
    if len(data) < 4:
        raise LengthError(f"data of {len(data)} bytes has no 4-byte data identifier")
    return data[3::-1].hex().upper()


def decode(raw: bytes) -> Reply:
    """Parse and interpret exactly one frame."""
    return interpret(parse_frame(raw))
