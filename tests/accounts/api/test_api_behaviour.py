"""Audit log, consent through the API, ETags, rate limits, pagination and problem documents."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from fastapi.testclient import TestClient

from accounts.api import create_app
from accounts.ledger import refresh_live
from tests.accounts.api.helpers import (
    ABSENT,
    ACCOUNT_ONLY,
    BANK,
    GRANTED,
    World,
    api_settings,
    auth,
)


def test_every_access_is_in_the_enterprise_audit_log(client: TestClient, world: World) -> None:
    bank, own = auth(world.keys["bank"]), auth(world.keys["enterprise"])
    assert client.get(f"/v1/enterprises/{GRANTED}/grades", headers=bank).status_code == 200
    assert client.get(f"/v1/enterprises/{ABSENT}/grades", headers=bank).status_code == 404
    log = client.get(f"/v1/enterprises/{GRANTED}/audit?limit=5", headers=own).json()["items"]
    newest = log[1]  # log[0] is this very read of the audit log
    assert log[0]["action"] == "audit.read"
    assert (newest["action"], newest["principal"], newest["outcome"], newest["role"]) == (
        "grades.read",
        BANK,
        "granted",
        "bank",
    )
    assert newest["path"] == f"/v1/enterprises/{GRANTED}/grades"
    # the denied attempt is recorded against the enterprise that was asked for
    with psycopg.connect(world.url) as conn:
        row = conn.execute(
            "SELECT outcome, principal FROM audit_log WHERE enterprise_code = %s"
            " AND action = 'grades.read' ORDER BY id DESC LIMIT 1",
            (ABSENT,),
        ).fetchone()
    assert row == ("denied", BANK)


def test_an_enterprise_grants_and_revokes_through_the_api(client: TestClient, world: World) -> None:
    own, bank = auth(world.keys["enterprise"]), auth(world.keys["bank"])
    path = f"/v1/enterprises/{GRANTED}"
    assert client.delete(f"{path}/consents/{BANK}", headers=own).status_code == 204
    assert client.get(f"{path}/account", headers=bank).status_code == 404
    granted = client.post(
        f"{path}/consents", headers=own, json={"bank_id": BANK, "scope": ["account", "timeseries"]}
    )
    assert granted.status_code == 201 and granted.json()["status"] == "active"
    assert client.get(f"{path}/account", headers=bank).status_code == 200
    mine = client.get("/v1/consents", headers=bank).json()["items"]
    assert {(c["enterprise_code"], c["status"]) for c in mine} >= {
        (GRANTED, "active"), (GRANTED, "revoked"), (ACCOUNT_ONLY, "active")
    }  # fmt: skip
    unknown_bank = client.post(f"{path}/consents", headers=own, json={"bank_id": "nobank"})
    assert unknown_bank.status_code == 422
    assert unknown_bank.json()["detail"] == "unknown bank nobank"


def test_account_etag_answers_304_until_the_account_changes(
    client: TestClient, world: World
) -> None:
    bank = auth(world.keys["bank"])
    path = f"/v1/enterprises/{GRANTED}/account?period=mtd"
    with psycopg.connect(world.url) as conn:
        refresh_live(conn, world.settings.accounts, codes=[GRANTED])  # stores the live periods
    first = client.get(path, headers=bank)
    assert first.status_code == 200
    etag = first.headers["etag"]
    again = client.get(path, headers={**bank, "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    stale = client.get(path, headers={**bank, "If-None-Match": '"stale"'})
    assert stale.status_code == 200 and stale.content == first.content
    with psycopg.connect(world.url) as conn:
        refresh_live(conn, world.settings.accounts, codes=[GRANTED])  # a new computed_at
    changed = client.get(path, headers={**bank, "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag


def test_cursor_pagination_walks_every_item_once(client: TestClient, world: World) -> None:
    admin = auth(world.keys["admin"])
    seen: list[str] = []
    url = "/v1/enterprises?limit=2"
    while True:
        body = client.get(url, headers=admin).json()
        seen += [e["code"] for e in body["items"]]
        if body["next_cursor"] is None:
            break
        url = f"/v1/enterprises?limit=2&cursor={body['next_cursor']}"
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == 5  # five registered
    bad = client.get("/v1/enterprises?cursor=bm90LWEtY3Vyc29y", headers=admin)
    assert bad.status_code == 422 and bad.json()["type"] == "/v1/problems/validation"


def test_errors_are_problem_documents(client: TestClient, world: World) -> None:
    admin = auth(world.keys["admin"])
    for response, status in (
        (client.get("/v1/nowhere", headers=admin), 404),
        (client.delete("/v1/me", headers=admin), 405),
        (client.get("/v1/enterprises/not-a-code", headers=admin), 422),
        (client.get("/v1/enterprises/91A30000727215176J", headers=admin), 422),  # division: digits
        (client.get(f"/v1/enterprises/{GRANTED}/account?period=2026-13", headers=admin), 422),
    ):
        assert response.status_code == status
        assert response.headers["content-type"] == "application/problem+json"
        body = response.json()
        assert set(body) >= {"type", "title", "status", "detail", "instance"}
        assert body["status"] == status
    assert client.get("/v1/problems/rate-limited").json()["title"] == "Too Many Requests"


def test_economic_upload_is_validated_and_stored(client: TestClient, world: World) -> None:
    own = auth(world.keys["enterprise"])
    path = f"/v1/enterprises/{GRANTED}/economic-data"
    bad = client.post(path, headers=own, json={"records": [{"period": "2026-02", "revenue": -1}]})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["location"] == "body.records.0.revenue"
    ok = client.post(
        path,
        headers=own,
        json={"records": [{"period": "2025", "value_added": "1234.5", "revenue": "5000"}]},
    )
    assert ok.json() == {"stored": 1}
    with psycopg.connect(world.url) as conn:
        row = conn.execute(
            "SELECT value_added, revenue, source FROM economic_data"
            " WHERE enterprise_code = %s AND period_kind = 'year'",
            (GRANTED,),
        ).fetchone()
    assert row is not None and (str(row[0]), str(row[1])) == ("1234.5", "5000")
    assert row[2].startswith("api:clk_")


@pytest.fixture
def limited(world: World) -> Iterator[TestClient]:
    settings = api_settings(world.url, rate_per_s=0.05, burst=3)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_rate_limit_answers_429_with_retry_after(limited: TestClient, world: World) -> None:
    # a bucket of 3 tokens refilled at 0.05/s: three requests pass, the fourth waits 1 / 0.05 = 20 s
    statuses = [limited.get("/v1/me", headers=auth(world.keys["bureau"])) for _ in range(4)]
    assert [r.status_code for r in statuses] == [200, 200, 200, 429]
    assert statuses[3].headers["retry-after"] == "20"
    assert statuses[3].json()["type"] == "/v1/problems/rate-limited"
