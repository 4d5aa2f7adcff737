"""Wire format v1: round trip, and one rejection per malformed shape, naming field and reason."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone

import pytest

from carbonledger import wire
from carbonledger.errors import WireFormatError

CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 11, 29, 8, 0, 15, tzinfo=CST)
GOOD_READING = {
    "meter": "m-1",
    "quantity": "energy_import",
    "time": "2026-11-29T08:00:15+08:00",
    "value": 123456.78,
    "quality": "good",
}


def envelope(**overrides: object) -> dict[str, object]:
    doc: dict[str, object] = {
        "v": 1,
        "seq": 7,
        "sent_at": "2026-11-29T08:00:16+08:00",
        "readings": [dict(GOOD_READING)],
    }
    doc.update(overrides)
    return doc


def payload(doc: object) -> bytes:
    return json.dumps(doc).encode()


def test_round_trip_keeps_every_field_and_the_zone() -> None:
    readings = [
        wire.Reading("m-1", "energy_import", T0, 999999.99, wire.Quality.GOOD),
        wire.Reading("cems.1", "co2_concentration", T0.astimezone(UTC), 1.5e5, wire.Quality.BAD),
        wire.Reading("m-2", "gas_volume", T0 + timedelta(seconds=15), 0, wire.Quality.ESTIMATED),
    ]
    batch = wire.decode(wire.encode(42, readings, T0))
    assert batch.seq == 42
    assert batch.sent_at == T0
    assert batch.rejected == []
    assert batch.readings == readings
    assert batch.readings[0].time.utcoffset() == timedelta(hours=8)
    assert batch.readings[1].time.utcoffset() == timedelta(0)


def test_encoded_payload_is_the_documented_json() -> None:
    raw = wire.encode(1, [wire.Reading("m-1", "energy_import", T0, 1.25)], T0)
    assert json.loads(raw) == {
        "v": 1,
        "seq": 1,
        "sent_at": "2026-11-29T08:00:15+08:00",
        "readings": [
            {
                "meter": "m-1",
                "quantity": "energy_import",
                "time": "2026-11-29T08:00:15+08:00",
                "value": 1.25,
                "quality": "good",
            }
        ],
    }


@pytest.mark.parametrize(
    ("raw", "field", "reason"),
    [
        (b"{not json", "", "not valid JSON"),
        (b"\xff\xfe", "", "not valid JSON"),
        (payload([1, 2]), "", "expected a JSON object, got an array"),
        (payload(envelope(v=2)), "v", "unsupported schema version 2"),
        (payload(envelope(v=True)), "v", "unsupported schema version True"),
        (payload({k: v for k, v in envelope().items() if k != "v"}), "v", "unsupported"),
        (payload(envelope(extra=1)), "extra", "unexpected field"),
        (payload(envelope(seq=-1)), "seq", "non-negative integer"),
        (payload(envelope(seq="7")), "seq", "non-negative integer"),
        (payload(envelope(seq=1.5)), "seq", "non-negative integer"),
        (payload(envelope(sent_at="2026-11-29T08:00:16")), "sent_at", "no UTC offset"),
        (payload(envelope(sent_at="yesterday")), "sent_at", "not an RFC 3339 timestamp"),
        (payload(envelope(sent_at=1700000000)), "sent_at", "expected an RFC 3339 string"),
        (payload(envelope(readings={})), "readings", "expected an array, got an object"),
        (payload(envelope(readings=[])), "readings", "at least one reading"),
        (
            payload(envelope(readings=[GOOD_READING] * (wire.MAX_READINGS_PER_BATCH + 1))),
            "readings",
            "exceed",
        ),
        (b" " * (wire.MAX_PAYLOAD_BYTES + 1), "", "exceeds"),
    ],
)
def test_malformed_envelope_is_rejected_with_field_and_reason(
    raw: bytes, field: str, reason: str
) -> None:
    with pytest.raises(WireFormatError) as caught:
        wire.decode(raw)
    assert caught.value.field == field
    assert reason in caught.value.problem


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"meter": ""}, "meter", "not a valid meter id"),
        ({"meter": "a/b"}, "meter", "not a valid meter id"),
        ({"meter": 12}, "meter", "not a valid meter id"),
        ({"quantity": "volts"}, "quantity", "not a known quantity"),
        ({"time": "2026-11-29 08:00:15"}, "time", "no UTC offset"),
        ({"time": "2026-13-29T08:00:15+08:00"}, "time", "not an RFC 3339 timestamp"),
        ({"time": None}, "time", "expected an RFC 3339 string, got null"),
        ({"value": "12.5"}, "value", "expected a number, got a string"),
        ({"value": True}, "value", "expected a number, got a boolean"),
        ({"value": None}, "value", "expected a number, got null"),
        ({"quality": "ok"}, "quality", "is not one of"),
        ({"unit": "kWh"}, "unit", "unexpected field"),
    ],
)
def test_malformed_reading_is_rejected_alone(
    change: dict[str, object], field: str, reason: str
) -> None:
    bad = {**GOOD_READING, **change}
    batch = wire.decode(payload(envelope(readings=[GOOD_READING, bad, GOOD_READING])))
    assert len(batch.readings) == 2
    [rejected] = batch.rejected
    assert rejected.position == 1
    assert rejected.field == field
    assert reason in rejected.problem
    assert str(rejected).startswith(f"readings[1].{field}: ")


def test_missing_reading_field_and_non_object_reading() -> None:
    incomplete = {k: v for k, v in GOOD_READING.items() if k != "quality"}
    batch = wire.decode(payload(envelope(readings=[incomplete, 5])))
    assert [(r.position, r.field, r.problem) for r in batch.rejected] == [
        (0, "quality", "missing"),
        (1, "", "expected an object, got int"),
    ]
    assert str(batch.rejected[1]) == "readings[1]: expected an object, got int"


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"1e999"])
def test_non_finite_values_are_never_accepted(literal: bytes) -> None:
    raw = payload(envelope()).replace(b"123456.78", literal)
    try:
        batch = wire.decode(raw)
    except WireFormatError as exc:  # not JSON at all for a strict parser
        assert exc.field == ""
    else:  # a lenient parser yields inf/nan: the reading is refused
        assert not batch.readings
        assert batch.rejected[0].field == "value"


def test_encode_refuses_naive_timestamps_and_empty_batches() -> None:
    naive = datetime(2026, 11, 29, 8, 0)
    with pytest.raises(WireFormatError, match=r"readings\[0\].time"):
        wire.encode(1, [wire.Reading("m", "energy_import", naive, 1.0)], T0)
    with pytest.raises(WireFormatError, match="sent_at"):
        wire.encode(1, [wire.Reading("m", "energy_import", T0, 1.0)], naive)
    with pytest.raises(WireFormatError, match="at least one"):
        wire.encode(1, [], T0)


def test_topics_round_trip_and_bad_topics_say_why() -> None:
    topic = wire.readings_topic("91331102MA2A00001X", "gw-1", root="lishui/prod")
    assert topic == "lishui/prod/v1/91331102MA2A00001X/gw-1/readings"
    assert wire.parse_topic(topic) == wire.Topic(
        "lishui/prod", "91331102MA2A00001X", "gw-1", "readings"
    )
    assert wire.readings_subscription("r") == "r/v1/+/+/readings"
    for bad, reason in [
        ("r/v2/91331102MA2A00001X/gw/readings", "version segment"),
        ("r/v1/91331102MA2A0000IX/gw/readings", "18-character code"),
        ("r/v1/91331102MA2A00001X/gw/values", "last segment"),
        ("readings", "is not {root}"),
    ]:
        with pytest.raises(WireFormatError, match="topic") as caught:
            wire.parse_topic(bad)
        assert reason in caught.value.problem


def test_wire_module_imports_without_server_dependencies() -> None:
    code = (
        "import sys, carbonledger.wire; "
        "bad = [m for m in ('psycopg', 'numba', 'fastapi', 'pydantic') if m in sys.modules]; "
        "sys.exit(bool(bad) and print(bad))"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
