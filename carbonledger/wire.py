"""Wire format v1: the contract between edge gateways and ingest (``docs/wire-format.md``).

One module owns the topic layout and the JSON batch payload, and both sides import it: the edge
agent and the simulator to encode, ingest to decode. It needs only the standard library (orjson is
used when installed), so a gateway can import it without any server dependency.

Decoding is strict: an envelope that breaks the contract raises :class:`WireFormatError` naming the
field and the problem; a single bad reading inside a good envelope is reported in
:attr:`Batch.rejected` (with its index and reason) so that one broken meter does not hold back the
rest of the gateway's batch.
"""

from __future__ import annotations

import enum
import functools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, NamedTuple

from carbonledger.errors import WireFormatError

try:  # orjson is several times faster; the stdlib keeps the edge dependency-free.
    import orjson as _json

    def _dumps(obj: Any) -> bytes:
        return _json.dumps(obj)

    def _loads(data: bytes) -> Any:
        return _json.loads(data)

    _JSONDecodeError: type[Exception] = _json.JSONDecodeError
except ImportError:  # pragma: no cover - exercised on gateways without orjson
    import json as _stdjson

    def _dumps(obj: Any) -> bytes:
        return _stdjson.dumps(obj, separators=(",", ":"), allow_nan=False).encode()

    def _loads(data: bytes) -> Any:
        return _stdjson.loads(data)

    _JSONDecodeError = ValueError

VERSION = 1
DEFAULT_TOPIC_ROOT = "carbonledger"
MAX_PAYLOAD_BYTES = 2 << 20  # 10,000 readings fit with room to spare
MAX_READINGS_PER_BATCH = 10_000

ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}"
"""A meter or gateway id: the shape every stage accepts (a topic segment, a registry key)."""
CREDIT_CODE_PATTERN = r"[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}"
"""The shape of an enterprise code (GB 32100-2015): 18 characters of the code's alphabet (digits
and capitals without I O Z S V), positions 3-8 the GB/T 2260 division code in digits;
:mod:`carbonledger.uscc` checks the rest (the check characters)."""

_ID = re.compile(ID_PATTERN)
_QUANTITY = re.compile(r"[a-z][a-z0-9_]{0,47}")
_USCC = re.compile(CREDIT_CODE_PATTERN)
_READING_KEYS = frozenset({"meter", "quantity", "time", "value", "quality"})
_ENVELOPE_KEYS = frozenset({"v", "seq", "sent_at", "readings"})


class Quality(enum.StrEnum):
    """How far a reading can be trusted for accounting."""

    GOOD = "good"  # measured by the device, valid
    ESTIMATED = "estimated"  # substituted or entered by hand (HJ 212 flag S): valid but flagged
    BAD = "bad"  # fault, maintenance, calibration, over range: stored, never booked


_QUALITIES = {q.value: q for q in Quality}


class QuantityKind(enum.StrEnum):
    CUMULATIVE = "cumulative"  # a register that only grows (until rollover or reset)
    INSTANTANEOUS = "instantaneous"  # a rate or state, averaged or integrated over time


class QuantitySpec(NamedTuple):
    unit: str
    kind: QuantityKind
    description: str


# The quantities a reading may carry, each in one canonical unit. The `quantities` table in the
# database holds the same list (migration 0001); a test keeps the two equal.
QUANTITIES: dict[str, QuantitySpec] = {
    "energy_import": QuantitySpec("kWh", QuantityKind.CUMULATIVE, "active energy imported"),
    "energy_export": QuantitySpec("kWh", QuantityKind.CUMULATIVE, "active energy exported"),
    "energy_generated": QuantitySpec("kWh", QuantityKind.CUMULATIVE, "own generation (PV...)"),
    "active_power": QuantitySpec("kW", QuantityKind.INSTANTANEOUS, "total active power"),
    "gas_volume": QuantitySpec("Nm3", QuantityKind.CUMULATIVE, "natural gas, standard volume"),
    "steam_mass": QuantitySpec("t", QuantityKind.CUMULATIVE, "steam received"),
    "heat": QuantitySpec("GJ", QuantityKind.CUMULATIVE, "heat received"),
    "diesel_mass": QuantitySpec("t", QuantityKind.CUMULATIVE, "diesel consumed"),
    "co2_concentration": QuantitySpec(
        "mg/m3", QuantityKind.INSTANTANEOUS, "CEMS CO2, dry standard"
    ),
    "o2_concentration": QuantitySpec("%", QuantityKind.INSTANTANEOUS, "CEMS O2, volume"),
    "flue_gas_flow": QuantitySpec("m3/h", QuantityKind.INSTANTANEOUS, "CEMS flue-gas flow"),
    "flue_gas_temperature": QuantitySpec("degC", QuantityKind.INSTANTANEOUS, "flue-gas temp."),
    "flue_gas_pressure": QuantitySpec("Pa", QuantityKind.INSTANTANEOUS, "flue-gas static p."),
    "flue_gas_moisture": QuantitySpec("%", QuantityKind.INSTANTANEOUS, "flue-gas moisture"),
}


class Reading(NamedTuple):
    """One value of one quantity of one meter at one instant. Identity: (meter, quantity, time)."""

    meter: str
    quantity: str
    time: datetime
    value: float
    quality: Quality = Quality.GOOD


class RejectedReading(NamedTuple):
    position: int  # the reading's index in the payload's array
    field: str
    problem: str

    def __str__(self) -> str:
        where = f"readings[{self.position}]" + (f".{self.field}" if self.field else "")
        return f"{where}: {self.problem}"


@dataclass(frozen=True, slots=True)
class Batch:
    """A decoded payload: the gateway's sequence number, its readings and the ones rejected."""

    seq: int
    sent_at: datetime
    readings: list[Reading]
    rejected: list[RejectedReading] = field(default_factory=list)


class Topic(NamedTuple):
    """A parsed readings or status topic: ``{root}/v1/{enterprise}/{gateway}/{kind}``."""

    root: str
    enterprise: str
    gateway: str
    kind: str


TOPIC_KINDS = ("readings", "status")


def readings_topic(enterprise: str, gateway: str, root: str = DEFAULT_TOPIC_ROOT) -> str:
    return _topic(root, enterprise, gateway, "readings")


def status_topic(enterprise: str, gateway: str, root: str = DEFAULT_TOPIC_ROOT) -> str:
    return _topic(root, enterprise, gateway, "status")


def readings_subscription(root: str = DEFAULT_TOPIC_ROOT) -> str:
    """The filter that matches every gateway's readings under ``root``."""
    return f"{root}/v{VERSION}/+/+/readings"


def _topic(root: str, enterprise: str, gateway: str, kind: str) -> str:
    if not _USCC.fullmatch(enterprise):
        raise WireFormatError("topic", f"enterprise {enterprise!r} is not an 18-character code")
    if not _ID.fullmatch(gateway):
        raise WireFormatError("topic", f"gateway id {gateway!r} is not a valid identifier")
    return f"{root}/v{VERSION}/{enterprise}/{gateway}/{kind}"


def parse_topic(topic: str) -> Topic:
    """Split a topic into its parts, or raise :class:`WireFormatError` saying what is wrong."""
    parts = topic.rsplit("/", 4)
    if len(parts) != 5:
        raise WireFormatError("topic", f"{topic!r} is not {{root}}/v1/{{enterprise}}/{{gateway}}/…")
    root, version, enterprise, gateway, kind = parts
    if version != f"v{VERSION}":
        raise WireFormatError("topic", f"version segment {version!r} is not 'v{VERSION}'")
    if not _USCC.fullmatch(enterprise):
        raise WireFormatError("topic", f"enterprise {enterprise!r} is not an 18-character code")
    if not _ID.fullmatch(gateway):
        raise WireFormatError("topic", f"gateway id {gateway!r} is not a valid identifier")
    if kind not in TOPIC_KINDS:
        raise WireFormatError("topic", f"last segment {kind!r} is not one of {TOPIC_KINDS}")
    return Topic(root, enterprise, gateway, kind)


def encode(seq: int, readings: Sequence[Reading], sent_at: datetime) -> bytes:
    """Encode one batch. Timestamps keep their own UTC offset; naive ones are refused."""
    if not readings:
        raise WireFormatError("readings", "a batch needs at least one reading")
    if len(readings) > MAX_READINGS_PER_BATCH:
        raise WireFormatError("readings", f"more than {MAX_READINGS_PER_BATCH} readings")
    if sent_at.utcoffset() is None:
        raise WireFormatError("sent_at", "timestamp has no UTC offset")
    items = []
    for index, r in enumerate(readings):
        if r.time.utcoffset() is None:
            raise WireFormatError(f"readings[{index}].time", "timestamp has no UTC offset")
        items.append(
            {
                "meter": r.meter,
                "quantity": r.quantity,
                "time": r.time.isoformat(),
                "value": r.value,
                "quality": str(r.quality),
            }
        )
    return _dumps({"v": VERSION, "seq": seq, "sent_at": sent_at.isoformat(), "readings": items})


def decode(payload: bytes) -> Batch:
    """Decode and validate one batch payload.

    Raises :class:`WireFormatError` when the envelope is unusable; readings that fail validation
    individually are listed in ``Batch.rejected`` and left out of ``Batch.readings``.
    """
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise WireFormatError("", f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    try:
        doc = _loads(payload)
    except (_JSONDecodeError, UnicodeDecodeError) as exc:
        raise WireFormatError("", f"not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise WireFormatError("", f"expected a JSON object, got {_kind(doc)}")
    version = doc.get("v")
    if version != VERSION or isinstance(version, bool):
        raise WireFormatError("v", f"unsupported schema version {version!r}, expected {VERSION}")
    unexpected = doc.keys() - _ENVELOPE_KEYS
    if unexpected:
        raise WireFormatError(sorted(unexpected)[0], "unexpected field in a v1 envelope")
    seq = doc.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq < 2**63:
        raise WireFormatError("seq", f"expected a non-negative integer, got {seq!r}")
    sent_at = _timestamp(doc.get("sent_at"), "sent_at")
    items = doc.get("readings")
    if not isinstance(items, list):
        raise WireFormatError("readings", f"expected an array, got {_kind(items)}")
    if not items:
        raise WireFormatError("readings", "a batch needs at least one reading")
    if len(items) > MAX_READINGS_PER_BATCH:
        raise WireFormatError("readings", f"{len(items)} readings exceed {MAX_READINGS_PER_BATCH}")
    readings: list[Reading] = []
    rejected: list[RejectedReading] = []
    times: dict[str, datetime] = {}  # a gateway's batch repeats few distinct timestamps
    for index, item in enumerate(items):
        try:
            readings.append(_reading(item, times))
        except WireFormatError as exc:
            rejected.append(RejectedReading(index, exc.field, exc.problem))
    return Batch(seq, sent_at, readings, rejected)


def decode_reading(item: object) -> Reading:
    """Validate one reading object (``{"meter", "quantity", "time", "value", "quality"}``).

    The rules of :func:`decode` for one item, for readings that arrive by other routes (a CSV
    backfill); raises :class:`WireFormatError` naming the field.
    """
    return _reading(item, {})


def _reading(item: object, times: dict[str, datetime]) -> Reading:
    if not isinstance(item, dict):
        raise WireFormatError("", f"expected an object, got {_kind(item)}")
    if len(item) != len(_READING_KEYS) or item.keys() != _READING_KEYS:
        missing = _READING_KEYS - item.keys()
        if missing:
            raise WireFormatError(sorted(missing)[0], "missing")
        raise WireFormatError(sorted(item.keys() - _READING_KEYS)[0], "unexpected field")
    meter = item["meter"]
    if not isinstance(meter, str) or not _valid_id(meter):
        raise WireFormatError("meter", f"{meter!r} is not a valid meter id")
    quantity = item["quantity"]
    if not isinstance(quantity, str) or quantity not in QUANTITIES:
        raise WireFormatError("quantity", f"{quantity!r} is not a known quantity")
    value = item["value"]
    if type(value) is not float:
        if isinstance(value, bool) or not isinstance(value, int):
            raise WireFormatError("value", f"expected a number, got {_kind(value)}")
        value = float(value)
    if not math.isfinite(value):
        raise WireFormatError("value", "must be finite")
    quality = _QUALITIES.get(item["quality"]) if isinstance(item["quality"], str) else None
    if quality is None:
        raise WireFormatError("quality", f"{item['quality']!r} is not one of {list(_QUALITIES)}")
    raw_time = item["time"]
    time = times.get(raw_time) if isinstance(raw_time, str) else None
    if time is None:
        time = times[raw_time] = _timestamp(raw_time, "time")
    return Reading(meter, quantity, time, value, quality)


def reading_problem(reading: Reading) -> str | None:
    """Why a reading built in Python breaks this contract (ingest would refuse it), or None."""
    if reading.time.utcoffset() is None:
        return "time has no UTC offset"
    if reading.quantity not in QUANTITIES:
        return f"unknown quantity {reading.quantity!r}"
    if not isinstance(reading.value, float | int) or not math.isfinite(reading.value):
        return f"value {reading.value!r} is not a finite number"
    if not _valid_id(reading.meter):
        return f"meter id {reading.meter!r} is not valid"
    if not isinstance(reading.quality, Quality):
        return f"quality {reading.quality!r} is not a Quality"
    return None


def status_payload(
    gateway: str,
    enterprise: str,
    state: Literal["online", "offline"],
    at: datetime,
    reason: str | None = None,
    **fields: object,
) -> bytes:
    """A gateway's retained status message (docs/wire-format.md, "Gateway status payload").

    ``fields`` are the heartbeat's counters, in the order they are given; readers ignore fields
    they do not know.
    """
    doc: dict[str, object] = {
        "v": VERSION,
        "gateway": gateway,
        "enterprise": enterprise,
        "state": state,
        "at": at.isoformat(timespec="seconds"),
    }
    if reason:
        doc["reason"] = reason
    doc |= fields
    return _dumps(doc)


@functools.lru_cache(maxsize=1 << 16)
def _valid_id(candidate: str) -> bool:
    return _ID.fullmatch(candidate) is not None


def _timestamp(raw: object, name: str) -> datetime:
    if not isinstance(raw, str):
        raise WireFormatError(name, f"expected an RFC 3339 string, got {_kind(raw)}")
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise WireFormatError(name, f"{raw!r} is not an RFC 3339 timestamp") from None
    if parsed.utcoffset() is None:
        raise WireFormatError(name, f"{raw!r} has no UTC offset (write e.g. +08:00 or Z)")
    return parsed


def _kind(value: object) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )
