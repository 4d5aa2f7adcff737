"""Ingest end to end through the real broker into the real database."""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from carbonledger import wire
from carbonledger.config import Settings
from ingest import directory
from tests.helpers import (
    ENTERPRISE_A,
    ENTERPRISE_B,
    SITES,
    Publisher,
    RunningIngest,
    Site,
    count,
    make_settings,
    readings_for,
    register_sites,
    wait_for,
)

T0 = datetime(2026, 11, 1, 0, 0, tzinfo=UTC)


def batches(
    site: Site, readings: Sequence[wire.Reading], size: int, root: str
) -> list[tuple[str, bytes]]:
    topic = wire.readings_topic(site.enterprise, site.gateway, root)
    return [
        (topic, wire.encode(seq, readings[i : i + size], T0))
        for seq, i in enumerate(range(0, len(readings), size))
    ]


def stored(url: str) -> set[tuple[str, datetime, float]]:
    with psycopg.connect(url) as conn:
        return set(conn.execute("SELECT meter_id, time, value FROM readings").fetchall())


def test_20000_readings_with_duplicates_and_disorder_are_stored_exactly_once(
    storage_db_url: str, publisher: Publisher, topic_root: str
) -> None:
    settings = make_settings(storage_db_url, topic_root)
    register_sites(storage_db_url)
    registered = SITES
    rng = random.Random(7)
    expected: set[tuple[str, datetime, float]] = set()
    messages: list[tuple[str, bytes]] = []
    for site in registered:
        readings = readings_for(site.meters, T0, count=1000)  # 10 meters x 1000 = 10,000
        expected |= {(r.meter, r.time, r.value) for r in readings}
        rng.shuffle(readings)  # readings out of time order inside and across batches
        messages += batches(site, readings, size=250, root=topic_root)
        # overlapping re-sends, as a gateway replaying part of its outbox would
        messages += batches(site, readings[100:600], size=100, root=topic_root)
    messages += rng.sample(messages, 12)  # whole messages delivered twice
    rng.shuffle(messages)
    assert len(expected) == 20_000

    with RunningIngest(settings) as ingest:
        for topic, payload in messages:
            publisher.publish(topic, payload)
        assert wait_for(
            lambda: count(settings.database_url, "SELECT count(*) FROM readings") >= 20_000
        )
        assert wait_for(lambda: ingest.service.metrics.readings_duplicate._value.get() >= 3_500)

    assert stored(settings.database_url) == expected
    assert count(settings.database_url, "SELECT count(*) FROM readings") == 20_000
    assert count(settings.database_url, "SELECT count(*) FROM dead_letters") == 0
    metrics = ingest.service.metrics
    sent = sum(len(json.loads(p)["readings"]) for _, p in messages)
    assert metrics.readings_stored._value.get() == 20_000
    assert metrics.readings_stored._value.get() + metrics.readings_duplicate._value.get() == sent


def test_bad_input_is_dead_lettered_with_its_reason_and_the_rest_is_stored(
    settings: Settings, registered: Sequence[Site], publisher: Publisher, topic_root: str
) -> None:
    site_a, site_b = registered
    topic_a = wire.readings_topic(site_a.enterprise, site_a.gateway, topic_root)
    good = readings_for(site_a.meters[:2], T0, count=5)
    stranger = wire.Reading("nobody-01", "energy_import", T0, 1.0)
    foreign = wire.Reading(site_b.meters[0], "energy_import", T0, 2.0)
    conflicting = wire.Reading(good[0].meter, good[0].quantity, good[0].time, good[0].value + 1)
    poison = [
        (topic_a, b"\x00garbage", "malformed: not valid JSON"),
        (topic_a, json.dumps({"v": 9}).encode(), "malformed: v: unsupported schema version 9"),
        (f"{topic_root}/v1/NOT-A-CODE/gw-a/readings", wire.encode(1, good, T0), "malformed: topic"),
        (
            wire.readings_topic(ENTERPRISE_B, site_a.gateway, topic_root),
            wire.encode(2, good, T0),
            f"unauthorised: gateway 'gw-a' is registered to enterprise {ENTERPRISE_A}",
        ),
        (
            wire.readings_topic(ENTERPRISE_A, "gw-ghost", topic_root),
            wire.encode(3, good, T0),
            "unauthorised: unknown gateway 'gw-ghost'",
        ),
    ]
    mixed = wire.encode(4, [*good, stranger, foreign], T0)
    with RunningIngest(settings):
        publisher.publish(topic_a, wire.encode(0, good, T0))
        assert wait_for(lambda: count(settings.database_url, "SELECT count(*) FROM readings") == 10)
        for topic, payload, _ in poison:
            publisher.publish(topic, payload)
        publisher.publish(topic_a, mixed)
        publisher.publish(topic_a, wire.encode(5, [conflicting], T0))
        later = readings_for(site_a.meters[2:3], T0, count=3)
        publisher.publish(topic_a, wire.encode(6, later, T0))  # the stream goes on
        assert wait_for(
            lambda: count(settings.database_url, "SELECT count(*) FROM dead_letters") == 7
        )
        assert wait_for(lambda: count(settings.database_url, "SELECT count(*) FROM readings") == 13)

    with psycopg.connect(settings.database_url) as conn:
        letters = {
            bytes(payload): (topic, reason, rejected, accepted, bytes(digest))
            for topic, payload, reason, rejected, accepted, digest in conn.execute(
                "SELECT topic, payload, reason, rejected_readings, accepted_readings,"
                " payload_sha256 FROM dead_letters"
            )
        }
    for topic, payload, reason in poison:
        got_topic, got_reason, rejected, accepted, digest = letters[payload]
        assert (got_topic, rejected, accepted) == (topic, None, 0)
        assert got_reason.startswith(reason), got_reason
        assert digest == hashlib.sha256(payload).digest()
    _, reason, rejected, accepted, _ = letters[mixed]
    assert (rejected, accepted) == (2, 10)
    assert "readings[10]: unknown meter 'nobody-01'" in reason
    assert (
        f"readings[11]: meter '{site_b.meters[0]}' belongs to enterprise {ENTERPRISE_B}" in reason
    )
    conflict_payload = wire.encode(5, [conflicting], T0)
    _, reason, rejected, accepted, _ = letters[conflict_payload]
    assert (rejected, accepted) == (1, 1)
    assert "conflicts with the stored reading" in reason and "the stored value is kept" in reason
    assert (good[0].meter, good[0].time, good[0].value) in stored(settings.database_url)


def test_a_redelivered_poison_message_is_recorded_once(
    settings: Settings, registered: Sequence[Site], publisher: Publisher, topic_root: str
) -> None:
    topic = wire.readings_topic(ENTERPRISE_A, "gw-a", topic_root)
    with RunningIngest(settings):
        for _ in range(3):
            publisher.publish(topic, b"{}")
        publisher.publish(topic, wire.encode(1, readings_for(["a-m00"], T0, 2), T0))
        assert wait_for(lambda: count(settings.database_url, "SELECT count(*) FROM readings") == 2)
    assert count(settings.database_url, "SELECT count(*) FROM dead_letters") == 1


def test_a_meter_registered_while_ingest_runs_is_accepted(
    settings: Settings,
    registered: Sequence[Site],
    publisher: Publisher,
    topic_root: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(directory, "NEGATIVE_TTL_S", 0.2)
    topic = wire.readings_topic(ENTERPRISE_A, "gw-a", topic_root)
    late = wire.Reading("a-new", "gas_volume", T0, 5.0)
    with RunningIngest(settings):
        publisher.publish(topic, wire.encode(1, [late], T0))
        assert wait_for(
            lambda: count(settings.database_url, "SELECT count(*) FROM dead_letters") == 1
        )
        with psycopg.connect(settings.database_url) as conn:
            conn.execute(
                "INSERT INTO meters (id, enterprise_code, gateway_id, carrier, quantity, unit)"
                " VALUES ('a-new', %s, 'gw-a', 'natural_gas', 'gas_volume', 'Nm3')",
                (ENTERPRISE_A,),
            )
        time.sleep(0.3)  # unknown ids are remembered as unknown for NEGATIVE_TTL_S
        later = wire.Reading("a-new", "gas_volume", T0 + timedelta(seconds=15), 6.0)
        publisher.publish(topic, wire.encode(2, [later], T0))
        assert wait_for(
            lambda: count(settings.database_url, "SELECT count(*) FROM readings") == 1, timeout=15
        )


def test_a_backlog_is_taken_in_large_batches(
    db_url: str, registered: Sequence[Site], publisher: Publisher, topic_root: str
) -> None:
    """Messages that waited in the queue while the database was busy still batch together."""
    settings = make_settings(db_url, topic_root, batch_size=100_000, max_delay_ms=100)
    site = registered[0]
    readings = readings_for(site.meters, T0, count=30)  # 300 readings
    topic = wire.readings_topic(site.enterprise, site.gateway, topic_root)
    with RunningIngest(settings) as ingest, psycopg.connect(db_url) as blocker:
        blocker.execute("LOCK TABLE readings IN SHARE ROW EXCLUSIVE MODE")  # stalls every INSERT
        for seq, reading in enumerate(readings):
            publisher.publish(topic, wire.encode(seq, [reading], T0))
        publisher.close()
        time.sleep(1.0)  # all 300 messages now wait in ingest's queue, older than max_delay
        blocker.commit()
        assert wait_for(lambda: count(db_url, "SELECT count(*) FROM readings") == 300)
    commits = sum(bucket.get() for bucket in ingest.service.metrics.batch_readings._buckets)
    assert commits <= 5, f"{commits} commits for 300 queued messages"


def test_each_commit_logs_the_series_it_extended_and_notifies(
    settings: Settings, registered: Sequence[Site], publisher: Publisher, topic_root: str
) -> None:
    site = registered[0]
    topic = wire.readings_topic(site.enterprise, site.gateway, topic_root)
    first = readings_for(site.meters[:2], T0, count=4)  # 2 series x 4 readings
    url = settings.database_url
    assert url
    with psycopg.connect(url, autocommit=True) as listener, RunningIngest(settings):
        listener.execute("LISTEN carbonledger_readings")
        publisher.publish(topic, wire.encode(1, first, T0))
        assert wait_for(lambda: count(url, "SELECT count(*) FROM readings") == 8)
        notifies = listener.notifies(timeout=5, stop_after=1)
        assert [n.channel for n in notifies] == ["carbonledger_readings"]
        publisher.publish(topic, wire.encode(2, first[:3], T0))  # duplicates only: no change
        more = readings_for(site.meters[:1], T0 + timedelta(hours=1), count=2)
        publisher.publish(topic, wire.encode(3, more, T0))
        assert wait_for(lambda: count(url, "SELECT count(*) FROM readings") == 10)
    with psycopg.connect(url) as conn:
        changes = conn.execute(
            "SELECT enterprise_code, meter_id, first_time, last_time, readings"
            " FROM reading_changes ORDER BY id"
        ).fetchall()
    step = timedelta(seconds=15)
    hour = T0 + timedelta(hours=1)
    assert len(changes) == 3  # the batch of duplicates logged nothing
    assert sorted(changes[:2]) == [  # one transaction, one row per series
        (ENTERPRISE_A, "a-m00", T0, T0 + 3 * step, 4),
        (ENTERPRISE_A, "a-m01", T0, T0 + 3 * step, 4),
    ]
    assert changes[2] == (ENTERPRISE_A, "a-m00", hour, hour + step, 2)
