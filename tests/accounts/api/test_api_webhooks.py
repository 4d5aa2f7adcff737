"""Watchlist events to a real HTTP receiver on 127.0.0.1: signature, retries, delivery log."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import orjson
import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg_pool import AsyncConnectionPool

from accounts.api import SIGNATURE_HEADER, _destination, create_app, sign, verify
from accounts.api._time import floor_15m
from accounts.api._watch import detect
from accounts.api._webhooks import DeliveryWorker
from tests.accounts.api.helpers import BANK, GRANTED, World, api_settings, auth

SECRET = "k3y-for-hmac-0f9a8b7c6d5e"


class Receiver:
    """Answers each POST with the next scripted status and keeps what it got."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.received: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers), body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver([500])  # the first attempt fails, the retry succeeds
    yield r
    r.close()


def run_worker(world: World, passes: int, pause: float = 0.0, **api: Any) -> None:
    settings = api_settings(world.url, **{"webhook_backoff_s": 0.05, **api}).api

    async def main() -> None:
        async with (
            AsyncConnectionPool(world.url, kwargs={"autocommit": True}, open=False) as pool,
            httpx.AsyncClient() as client,
        ):
            worker = DeliveryWorker(pool, settings, client)
            for _ in range(passes):
                await worker.deliver_due()
                await asyncio.sleep(pause)

    asyncio.run(main())


def run_detect(world: World, now: datetime | None = None) -> int:
    async def main() -> int:
        async with await psycopg.AsyncConnection.connect(world.url, autocommit=True) as conn:
            return await detect(conn, world.settings.api, now or datetime.now(UTC))

    return asyncio.run(main())


def set_grade(world: World, grade: int, level: str) -> None:
    with psycopg.connect(world.url) as conn:
        conn.execute(
            "INSERT INTO grades (enterprise_code, period_kind, period_start, model, model_version,"
            " industry_code, l_value, industry_l, k_value, grade, level, basis, label,"
            " account_version) VALUES (%s, 'year', '2025-01-01', 'huzhou', 'huzhou-2021', '3011',"
            " 1, 1, 1, %s, %s, 'value_added', 'annual', 1)"
            " ON CONFLICT (enterprise_code, period_kind, period_start, model, model_version)"
            " DO UPDATE SET grade = excluded.grade, level = excluded.level",
            (GRANTED, grade, level),
        )


def test_signature_is_hmac_over_timestamp_and_body() -> None:
    body = b'{"id":"evt_1"}'
    header = sign(SECRET, 1_780_000_000, body)
    assert header.startswith("t=1780000000,v1=")
    assert verify(SECRET, header, body, now=1_780_000_100)
    assert not verify(SECRET, header, body + b" ", now=1_780_000_100)  # body changed
    assert not verify("another-secret-1234", header, body, now=1_780_000_100)
    assert not verify(SECRET, header, body, now=1_780_000_000 + 301)  # replayed too late


def test_a_worse_grade_is_delivered_signed_with_a_retry_and_logged(
    client: TestClient, world: World, receiver: Receiver
) -> None:
    bank = auth(world.keys["bank"])
    hook = client.post("/v1/webhooks", headers=bank, json={"url": receiver.url, "secret": SECRET})
    assert hook.status_code == 201, hook.text
    hook_id = hook.json()["id"]
    assert client.put(f"/v1/watchlist/{GRANTED}", headers=bank).status_code == 204

    set_grade(world, 2, "中碳")
    assert run_detect(world) == 0  # first sight: recorded, nothing to compare with
    set_grade(world, 2, "中碳")
    assert run_detect(world) == 0  # unchanged
    set_grade(world, 4, "高碳")
    assert run_detect(world) == 1  # one delivery: the one webhook of the one watching bank

    run_worker(world, passes=3, pause=0.1)  # 500, then (after the 0.05 s backoff) 200
    assert len(receiver.received) == 2
    headers, body = receiver.received[1]
    assert verify(SECRET, headers[SIGNATURE_HEADER], body)
    event = orjson.loads(body)
    assert event["type"] == "grade.worsened" and event["enterprise_code"] == GRANTED
    assert (event["data"]["previous"]["grade"], event["data"]["current"]["grade"]) == (2, 4)
    assert headers["Carbonledger-Event-Id"] == event["id"]
    assert receiver.received[0][1] == body  # the retry sends the same event

    log = client.get(f"/v1/webhooks/{hook_id}/deliveries", headers=bank).json()["items"]
    assert len(log) == 1 and log[0]["status"] == "delivered"
    attempts = [(a["attempt"], a["response_status"], a["error"]) for a in log[0]["attempts"]]
    assert attempts == [(1, 500, "HTTP 500"), (2, 200, None)]

    set_grade(world, 3, "高碳")
    assert run_detect(world) == 0  # better is not news


def test_poor_data_quality_is_told_once(client: TestClient, world: World) -> None:
    bank = auth(world.keys["bank"])
    client.put(f"/v1/watchlist/{GRANTED}", headers=bank)
    now = datetime(2026, 11, 30, 12, 7, tzinfo=UTC)
    end = floor_15m(now)
    with psycopg.connect(world.url) as conn:
        conn.execute("INSERT INTO gateways (id, enterprise_code) VALUES ('gw-q', %s)", (GRANTED,))
        for meter in ("q-m1", "q-m2"):
            conn.execute(
                "INSERT INTO meters (id, enterprise_code, gateway_id, carrier, quantity, unit)"
                " VALUES (%s, %s, 'gw-q', 'electricity', 'energy_import', 'kWh')",
                (meter, GRANTED),
            )
        # q-m1 covers the whole 24 h window (96 full buckets), q-m2 only its last 36 buckets:
        # coverage = (96 + 36) x 900000 / (2 x 96 x 900000) = 132 / 192 = 0.6875 < 0.9
        conn.execute(
            "INSERT INTO rollups_15m (bucket, enterprise_code, meter_id, quantity, activity_fp,"
            " covered_ms, estimated_ms) SELECT b, %s, m, 'energy_import', 10000, 900000, 0"
            " FROM generate_series(%s::timestamptz - interval '24 hours', %s - interval '15 min',"
            " interval '15 min') b, unnest(ARRAY['q-m1', 'q-m2']) m"
            " WHERE m = 'q-m1' OR b >= %s::timestamptz - interval '9 hours'",
            (GRANTED, end, end, end),
        )
    before = _events(world)
    run_detect(world, now)
    run_detect(world, now)
    new = _events(world)[len(before) :]
    assert [(e["type"], e["data"]["coverage"]) for e in new] == [
        ("quality.below_threshold", "0.6875")
    ]


def test_deliveries_stop_when_consent_is_revoked(
    client: TestClient, world: World, receiver: Receiver
) -> None:
    bank, own = auth(world.keys["bank"]), auth(world.keys["enterprise"])
    client.post("/v1/webhooks", headers=bank, json={"url": receiver.url, "secret": SECRET})
    client.put(f"/v1/watchlist/{GRANTED}", headers=bank)
    set_grade(world, 5, "高碳")
    assert run_detect(world) >= 1
    assert (
        client.delete(f"/v1/enterprises/{GRANTED}/consents/{BANK}", headers=own).status_code == 204
    )
    run_worker(world, passes=1)
    assert receiver.received == []
    with psycopg.connect(world.url) as conn:
        statuses = conn.execute(
            "SELECT DISTINCT status FROM webhook_deliveries WHERE finished_at > %s",
            (datetime.now(UTC) - timedelta(minutes=1),),
        ).fetchall()
    assert ("cancelled",) in statuses


def test_placeholder_secrets_and_pings(
    client: TestClient, world: World, receiver: Receiver
) -> None:
    bank = auth(world.keys["bank"])
    weak = client.post(
        "/v1/webhooks", headers=bank, json={"url": receiver.url, "secret": "changeme-changeme"}
    )
    assert weak.status_code == 422
    hook = client.post("/v1/webhooks", headers=bank, json={"url": receiver.url, "secret": SECRET})
    assert client.post(f"/v1/webhooks/{hook.json()['id']}/ping", headers=bank).status_code == 202
    receiver.statuses.clear()
    run_worker(world, passes=1)
    pings = [orjson.loads(b) for _, b in receiver.received if orjson.loads(b)["type"] == "ping"]
    assert len(pings) == 1


def _events(world: World) -> list[dict[str, Any]]:
    with psycopg.connect(world.url) as conn:
        return [r[0] for r in conn.execute("SELECT payload FROM webhook_events ORDER BY id")]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/",
        "http://[::ffff:127.0.0.1]:9/",
        "http://0.0.0.0:9/",
        "http://169.254.169.254/latest/meta-data",
        "http://[fe80::1]:9/",
        "http://[::1]:9/",
        "https://10.1.2.3/hook",
        "http://localhost:9/",
    ],
)
def test_a_webhook_to_a_non_public_address_is_refused_at_creation(world: World, url: str) -> None:
    settings = api_settings(world.url, webhook_allow_private=False)
    with TestClient(create_app(settings)) as strict:
        bank = auth(world.keys["bank"])
        refused = strict.post("/v1/webhooks", headers=bank, json={"url": url, "secret": SECRET})
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        problem = refused.json()
        assert problem["type"] == "/v1/problems/webhook-destination"
        assert "a webhook must point to a public address" in problem["detail"]
        public = strict.post(
            "/v1/webhooks", headers=bank, json={"url": "https://8.8.8.8/hook", "secret": SECRET}
        )
        assert public.status_code == 201, public.text


def _ping(client: TestClient, world: World, url: str) -> str:
    bank = auth(world.keys["bank"])
    hook = client.post("/v1/webhooks", headers=bank, json={"url": url, "secret": SECRET})
    assert hook.status_code == 201, hook.text
    hook_id = str(hook.json()["id"])
    assert client.post(f"/v1/webhooks/{hook_id}/ping", headers=bank).status_code == 202
    return hook_id


def _deliveries(client: TestClient, world: World, hook_id: str) -> list[dict[str, Any]]:
    bank = auth(world.keys["bank"])
    items = client.get(f"/v1/webhooks/{hook_id}/deliveries", headers=bank).json()["items"]
    return list(items)


def test_a_refused_destination_fails_at_once_without_retries(
    client: TestClient, world: World, receiver: Receiver
) -> None:
    hook_id = _ping(client, world, receiver.url)  # registered while private addresses were allowed
    run_worker(world, passes=3, pause=0.1, webhook_allow_private=False)
    assert receiver.received == []
    [delivery] = _deliveries(client, world, hook_id)
    assert delivery["status"] == "failed"
    [attempt] = delivery["attempts"]
    assert attempt["error"].startswith("127.0.0.1 is not public: a webhook must point to")


def _name(host: str | bytes) -> str:
    """httpx asks the resolver with bytes, asyncio with text."""
    return host.decode() if isinstance(host, bytes) else host


def test_a_delivery_connects_to_the_address_it_checked(
    client: TestClient, world: World, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A name that answers a permitted address for the check and another one afterwards (DNS
    rebinding) must be delivered to the address that was checked: the host is resolved once per
    attempt. Only loopback is used: 127.0.0.1 plays the public address (the receiver listens
    there), 127.0.0.2 the one a second lookup would return (nothing listens there)."""
    real = socket.getaddrinfo
    lookups: list[str] = []

    def rebinding(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if _name(host) != "hook.example":
            return real(host, port, *args, **kwargs)
        lookups.append(_name(host))
        answer = "127.0.0.1" if len(lookups) == 1 else "127.0.0.2"
        return real(answer, port, *args, **kwargs)

    public = _destination.is_public
    monkeypatch.setattr(
        _destination, "is_public", lambda address: str(address) == "127.0.0.1" or public(address)
    )
    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    receiver.statuses.clear()
    port = receiver.url.split(":")[2].split("/")[0]
    hook_id = _ping(client, world, f"http://hook.example:{port}/hook")
    lookups.clear()  # the check at creation looked it up too
    run_worker(world, passes=1, webhook_allow_private=False, webhook_timeout_s=2)
    assert lookups == ["hook.example"]
    assert len(receiver.received) == 1  # at 127.0.0.1, the address it checked
    assert _deliveries(client, world, hook_id)[0]["status"] == "delivered"


def test_the_host_header_keeps_the_name_of_the_url(
    client: TestClient, world: World, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = socket.getaddrinfo

    def local(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        return real("127.0.0.1" if _name(host) == "hook.example" else host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", local)
    receiver.statuses.clear()
    port = receiver.url.split(":")[2].split("/")[0]
    hook_id = _ping(client, world, f"http://hook.example:{port}/hook")
    run_worker(world, passes=1)
    [(headers, _)] = receiver.received
    assert headers["Host"] == f"hook.example:{port}"
    assert _deliveries(client, world, hook_id)[0]["status"] == "delivered"
