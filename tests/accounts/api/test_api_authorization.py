"""The authorisation matrix: every role x every endpoint x every consent state of bank-a.

Expected outcomes come from the policy written out here (not from the code under test):
enterprises see themselves, banks what a valid consent of the right scope shows them,
verifiers the enterprises they are assigned to (GRANTED's 2025), the bureau and admins
everything; some endpoints are for owners (the enterprise, admins), some for
oversight (plus the bureau), some for one role. A bank that may not see an enterprise gets the
same 404 body as for an unknown code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.accounts.api.helpers import GRANTED, STATES, UNKNOWN, World, auth

ROLES = ("admin", "bureau", "bank", "enterprise", "verifier")
ALL = set(ROLES)
OWNERS = {"admin", "enterprise"}
OVERSIGHT = {"admin", "bureau", "enterprise"}


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # {code} is the target enterprise
    ok: int
    roles: set[str]  # who may, once the enterprise is visible
    scope: str = "account"
    body: Any = None


ENTERPRISE_ENDPOINTS = [
    Endpoint("GET", "/v1/enterprises/{code}", 200, ALL),
    Endpoint("GET", "/v1/enterprises/{code}/account?period=mtd", 200, ALL),
    Endpoint("GET", "/v1/enterprises/{code}/derivation?period=mtd", 200, ALL),
    Endpoint("GET", "/v1/enterprises/{code}/grades", 200, ALL),
    Endpoint("GET", "/v1/enterprises/{code}/timeseries?granularity=day", 200, ALL, "timeseries"),
    Endpoint("GET", "/v1/enterprises/{code}/economic-data", 200, ALL),
    Endpoint(
        "POST",
        "/v1/enterprises/{code}/economic-data",
        200,
        OWNERS,
        body={"records": [{"period": "2026-01", "value_added": "100.5"}]},
    ),
    Endpoint("GET", "/v1/enterprises/{code}/audit", 200, OVERSIGHT),
    Endpoint("GET", "/v1/enterprises/{code}/consents", 200, OVERSIGHT),
    Endpoint(
        "POST",
        "/v1/enterprises/{code}/consents",
        201,
        OWNERS,
        body={"bank_id": "bank-b", "scope": ["account"]},
    ),
    Endpoint("PUT", "/v1/watchlist/{code}", 204, {"bank"}),
    # no account of this world is closed: once authorised, issuing is refused as a conflict
    Endpoint(
        "POST",
        "/v1/enterprises/{code}/certificates?period=2025",
        409,
        {"admin", "bureau", "enterprise"},
    ),
    Endpoint("GET", "/v1/enterprises/{code}/verification?year=2025", 200, ALL),
    Endpoint(
        "GET",
        "/v1/enterprises/{code}/verification/events?year=2025",
        200,
        {"admin", "bureau", "enterprise", "verifier"},
    ),
    # already assigned (GRANTED) or not closed (the others): authorised, then a conflict
    Endpoint(
        "POST",
        "/v1/enterprises/{code}/verification?year=2025",
        409,
        {"admin", "bureau"},
        body={"verifier_id": "verify-a"},
    ),
    Endpoint(
        "POST",
        "/v1/enterprises/{code}/verification/findings?year=2025",
        201,
        {"verifier"},
        body={"severity": "minor", "figure": "totals.scope2", "note": "meter el1 offline 2 days"},
    ),
    # the year is not closed: the assigned verifier is authorised, and cannot conclude yet
    Endpoint(
        "POST",
        "/v1/enterprises/{code}/verification/statement?year=2025",
        409,
        {"verifier"},
        body={"conclusion": "verified", "summary": "all figures agree"},
    ),
]

ROLE_ENDPOINTS = [
    Endpoint("GET", "/v1/me", 200, ALL),
    Endpoint("GET", "/v1/enterprises", 200, ALL),
    Endpoint("GET", "/v1/export?format=ndjson", 200, ALL),
    Endpoint("GET", "/v1/bureau/overview", 200, {"bureau", "admin"}),
    Endpoint("GET", "/v1/bureau/quality-alerts", 200, {"bureau", "admin"}),
    Endpoint("GET", "/v1/bureau/ingest-health", 200, {"bureau", "admin"}),
    Endpoint("GET", "/v1/keys", 200, {"admin"}),
    Endpoint("GET", "/v1/consents", 200, {"bank"}),
    Endpoint("GET", "/v1/watchlist", 200, {"bank"}),
    Endpoint("GET", "/v1/webhooks", 200, {"bank"}),
    Endpoint("POST", "/v1/verifiers", 201, {"bureau", "admin"}, body={"id": "b2", "name": "B"}),
    Endpoint(
        "POST",
        "/v1/verification/statements/999999/withdraw",
        404,
        {"verifier"},
        body={"reason": "issued in error"},
    ),
]


def visible(role: str, state: str, scope: str) -> bool:
    if state == "unknown":
        return False
    if role in ("admin", "bureau"):
        return True
    if role in ("enterprise", "verifier"):
        return STATES[state] == GRANTED  # the key is GRANTED's own; GRANTED's 2025 is assigned
    return state == "granted" or (state == "account-only" and scope == "account")


def expected(endpoint: Endpoint, role: str, state: str) -> int:
    # watchlist is for banks: other roles are refused before any enterprise is looked at
    if endpoint.roles == {"bank"} and role != "bank":
        return 403
    if not visible(role, state, endpoint.scope):
        return 404
    return endpoint.ok if role in endpoint.roles else 403


def call(client: TestClient, key: str, endpoint: Endpoint, code: str = "") -> Any:
    return client.request(
        endpoint.method,
        endpoint.path.format(code=code),
        headers=auth(key),
        json=endpoint.body,
    )


@pytest.mark.parametrize("state", list(STATES))
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    "endpoint", ENTERPRISE_ENDPOINTS, ids=[f"{e.method} {e.path}" for e in ENTERPRISE_ENDPOINTS]
)
def test_enterprise_endpoints(
    client: TestClient, world: World, endpoint: Endpoint, role: str, state: str
) -> None:
    response = call(client, world.keys[role], endpoint, STATES[state])
    assert response.status_code == expected(endpoint, role, state), response.text
    if response.status_code >= 400:
        assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    "endpoint", ROLE_ENDPOINTS, ids=[f"{e.method} {e.path}" for e in ROLE_ENDPOINTS]
)
def test_role_endpoints(client: TestClient, world: World, endpoint: Endpoint, role: str) -> None:
    response = call(client, world.keys[role], endpoint)
    assert response.status_code == (endpoint.ok if role in endpoint.roles else 403), response.text


@pytest.mark.parametrize("state", ["account-only", "absent", "revoked", "expired"])
@pytest.mark.parametrize(
    "endpoint",
    [e for e in ENTERPRISE_ENDPOINTS if e.method == "GET"],
    ids=[f"{e.method} {e.path}" for e in ENTERPRISE_ENDPOINTS if e.method == "GET"],
)
def test_a_bank_without_consent_learns_nothing(
    client: TestClient, world: World, endpoint: Endpoint, state: str
) -> None:
    """The 404 for a registered enterprise without (valid) consent is the 404 of an unknown one."""
    if visible("bank", state, endpoint.scope):
        pytest.skip("visible with this consent")
    code = STATES[state]
    hidden = call(client, world.keys["bank"], endpoint, code)
    unknown = call(client, world.keys["bank"], endpoint, UNKNOWN)
    assert hidden.status_code == unknown.status_code == 404
    assert hidden.text.replace(code, "X") == unknown.text.replace(UNKNOWN, "X")
    assert dict(hidden.headers) == dict(unknown.headers) | {
        "content-length": hidden.headers["content-length"]
    }


def test_no_key_bad_key_and_a_revoked_key_are_401(client: TestClient, world: World) -> None:
    assert client.get("/v1/me").status_code == 401
    response = client.get("/v1/me", headers=auth("clk_aaaaaaaaaa." + "x" * 43))
    assert response.status_code == 401
    assert response.json()["detail"] == "unknown API key"
    assert response.headers["www-authenticate"].startswith("Bearer")
    created = client.post(
        "/v1/keys", headers=auth(world.keys["admin"]), json={"role": "bureau", "name": "temp"}
    )
    assert created.status_code == 201
    key, key_id = created.json()["key"], created.json()["id"]
    assert client.get("/v1/me", headers=auth(key)).json()["role"] == "bureau"
    assert client.delete(f"/v1/keys/{key_id}", headers=auth(world.keys["admin"])).status_code == 204
    revoked = client.get("/v1/me", headers=auth(key))
    assert revoked.status_code == 401
    assert revoked.json()["detail"] == f"API key {key_id} was revoked"
