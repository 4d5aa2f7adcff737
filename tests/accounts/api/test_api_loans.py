"""Loan books over the API: upload with problem+json, the book by consent state, the report,
the enterprise's view of its lenders, the bureau's totals, and the authorisation matrix of
every new endpoint x role x consent state (the expected outcomes are the policy written out)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from carbonledger import uscc
from tests.accounts.api.helpers import BANK, GRANTED, STATES, UNKNOWN, World, auth

ROLES = ("admin", "bureau", "bank", "enterprise", "verifier")
OVERSIGHT = {"admin", "bureau", "enterprise"}
UNREGISTERED = uscc.make_code("91331102MA2A0NRG0")  # a valid code the registry does not hold
BORROWERS = {state: code for state, code in STATES.items() if state != "unknown"}
BORROWERS["unregistered"] = UNREGISTERED


def loan(loan_id: str, code: str, **fields: Any) -> dict[str, Any]:
    return {
        "loan_id": loan_id, "borrower_credit_code": code, "product": "碳效贷",
        "outstanding_yuan": "1000000", "committed_yuan": "1500000", "start_date": "2025-02-01",
        "maturity_date": "2027-01-31", "interest_rate": "3.45", "as_of": "2025-12-31",
        **fields,
    }  # fmt: skip


BOOK = [loan(f"L-{state}", code) for state, code in BORROWERS.items()]


@pytest.fixture(scope="module")
def booked(client: TestClient, world: World) -> Iterator[None]:
    response = client.post("/v1/loans", headers=auth(world.keys["bank"]), json={"loans": BOOK})
    assert response.status_code == 200, response.text
    assert response.json() == {"added": len(BOOK), "updated": 0, "unchanged": 0}
    yield


def test_a_bad_upload_names_every_bad_field_and_writes_nothing(
    client: TestClient, world: World, booked: None
) -> None:
    bad = [
        loan("N-1", GRANTED),
        loan("N-2", UNKNOWN, outstanding_yuan="2000000"),  # bad check character, > committed
        loan("N-3", GRANTED, currency="USD", maturity_date="2024-01-01"),
    ]
    response = client.post("/v1/loans", headers=auth(world.keys["bank"]), json={"loans": bad})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    locations = {e["location"] for e in response.json()["errors"]}
    assert locations == {
        "loans.1.borrower_credit_code", "loans.1.outstanding_yuan", "loans.2.currency",
        "loans.2.maturity_date",
    }  # fmt: skip
    listed = client.get("/v1/loans?limit=1000", headers=auth(world.keys["bank"])).json()
    assert "N-1" not in {item["loan_id"] for item in listed["items"]}


def test_re_upload_is_idempotent(client: TestClient, world: World, booked: None) -> None:
    response = client.post("/v1/loans", headers=auth(world.keys["bank"]), json={"loans": BOOK})
    assert response.json() == {"added": 0, "updated": 0, "unchanged": len(BOOK)}


def test_the_book_computes_only_what_consent_shows(
    client: TestClient, world: World, booked: None
) -> None:
    response = client.get("/v1/loans/book?year=2025", headers=auth(world.keys["bank"]))
    assert response.status_code == 200, response.text
    figures = {f["loan_id"]: f for f in response.json()["loans"]}
    expected = {
        "granted": "no_account",  # consented: read, but no 2025 account exists in this world
        "account-only": "no_account",
        "absent": "no_consent",
        "revoked": "no_consent",
        "expired": "no_consent",
        "unregistered": "not_on_platform",
    }
    assert {s: figures[f"L-{s}"]["status"] for s in expected} == expected
    for state in ("absent", "revoked", "expired", "unregistered"):
        f = figures[f"L-{state}"]
        assert (f["borrower_name"], f["industry_code"], f["grade"]) == (None, None, None)
    assert figures["L-granted"]["borrower_name"] is not None
    explained = client.get(
        "/v1/loans/explain?loan_id=L-absent&year=2025", headers=auth(world.keys["bank"])
    ).json()
    assert explained["steps"][-1] == "no_consent: no valid consent of scope account: no figure"


def test_the_report_in_three_forms(client: TestClient, world: World, booked: None) -> None:
    key = auth(world.keys["bank"])
    section = client.get("/v1/loans/report?year=2025", headers=key).json()
    assert section["standard"].startswith("JR/T 0227-2021")
    assert section["financing_overview"]["loans"] == len(BOOK)
    csv = client.get("/v1/loans/report?year=2025&format=csv", headers=key)
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[0] == "section,item,key,loans,outstanding_yuan,share,value"
    html = client.get("/v1/loans/report?year=2025&format=html", headers=key)
    assert html.headers["content-type"].startswith("text/html")
    assert "<script" not in html.text and "http" not in html.text.split("<body>")[1]
    missing = client.get("/v1/loans/report?year=2019", headers=key)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


def test_the_enterprise_sees_which_banks_hold_a_loan(
    client: TestClient, world: World, booked: None
) -> None:
    response = client.get(
        f"/v1/enterprises/{GRANTED}/lenders", headers=auth(world.keys["enterprise"])
    )
    assert response.status_code == 200
    assert [(r["bank_id"], r["loans"]) for r in response.json()] == [(BANK, 1)]
    audit = client.get(f"/v1/enterprises/{GRANTED}/audit", headers=auth(world.keys["enterprise"]))
    actions = {entry["action"] for entry in audit.json()["items"]}
    assert {"loans.book.read", "lenders.read"} <= actions


def test_the_bureau_totals(client: TestClient, world: World, booked: None) -> None:
    totals = client.get("/v1/bureau/finance?year=2025", headers=auth(world.keys["bureau"])).json()
    assert totals["loans"] == len(BOOK)
    assert totals["outstanding_yuan"] == str(1_000_000 * len(BOOK))
    assert [b["bank_id"] for b in totals["banks"]] == [BANK]


# --- the authorisation matrix ------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    ok: int
    roles: set[str]
    body: Any = None


ROLE_ENDPOINTS = [
    Endpoint("POST", "/v1/loans", 200, {"bank"}, {"loans": [loan("M-1", GRANTED)]}),
    Endpoint("GET", "/v1/loans", 200, {"bank"}),
    Endpoint("GET", "/v1/loans/book?year=2025", 200, {"bank"}),
    Endpoint("GET", "/v1/loans/explain?loan_id=L-granted&year=2025", 200, {"bank"}),
    Endpoint("GET", "/v1/loans/trend", 200, {"bank"}),
    Endpoint("GET", "/v1/loans/report?year=2025", 200, {"bank"}),
    Endpoint("GET", "/v1/loans/report?year=2025&format=csv", 200, {"bank"}),
    Endpoint("GET", "/v1/loans/report?year=2025&format=html", 200, {"bank"}),
    Endpoint("GET", "/v1/bureau/finance?year=2025", 200, {"bureau", "admin"}),
]
LENDERS = Endpoint("GET", "/v1/enterprises/{code}/lenders", 200, OVERSIGHT)


def visible(role: str, state: str) -> bool:
    if state == "unknown":
        return False
    if role in ("admin", "bureau"):
        return True
    if role in ("enterprise", "verifier"):
        return STATES[state] == GRANTED  # the key is GRANTED's own; GRANTED's 2025 is assigned
    return state in ("granted", "account-only")  # the lenders view needs scope account


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", ROLE_ENDPOINTS, ids=[e.path for e in ROLE_ENDPOINTS])
def test_role_endpoints(
    client: TestClient, world: World, booked: None, endpoint: Endpoint, role: str
) -> None:
    response = client.request(
        endpoint.method, endpoint.path, headers=auth(world.keys[role]), json=endpoint.body
    )
    assert response.status_code == (endpoint.ok if role in endpoint.roles else 403), response.text
    if response.status_code >= 400:
        assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("state", list(STATES))
@pytest.mark.parametrize("role", ROLES)
def test_lenders_by_role_and_consent_state(
    client: TestClient, world: World, booked: None, role: str, state: str
) -> None:
    response = client.get(LENDERS.path.format(code=STATES[state]), headers=auth(world.keys[role]))
    wanted = 404 if not visible(role, state) else (200 if role in LENDERS.roles else 403)
    assert response.status_code == wanted, response.text


@pytest.mark.parametrize("state", [s for s in BORROWERS if s != "unregistered"])
def test_the_bank_book_by_consent_state(
    client: TestClient, world: World, booked: None, state: str
) -> None:
    """Each consent state decides whether the borrower's figures may be computed at all."""
    response = client.get(
        f"/v1/loans/explain?loan_id=L-{state}&year=2025", headers=auth(world.keys["bank"])
    )
    consented = state in ("granted", "account-only")
    assert (response.json()["status"] != "no_consent") is consented
