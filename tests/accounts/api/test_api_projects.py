"""Climate projects over HTTP: the enterprise declares, the bureau screens and admits, a bank
with the owner's consent reads the measured reductions; roles, consent, problem+json, audit."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient

from accounts.api import Role, Scope, create_app, create_key, grant_consent
from tests.accounts.api.helpers import api_settings
from tests.accounts.ledger.helpers import local
from tests.projects.helpers import OTHER, OWNER, register_owner, rollup

DECLARATION = {
    "id": "lishui-pv-01", "owner_code": OWNER, "title": "莲都工业园屋顶光伏",
    "purpose": "mitigation", "area": "clean_energy", "subcategory": "solar",
    "location": "莲都区", "total_investment_yuan": "8000000", "start_of_operation": "2026-01-01",
    "expected_annual_tco2": "1000", "method": "generation",
    "meters": {"pv-1": "generation", "aux-1": "own_use"},
}  # fmt: skip


def _keys(url: str) -> dict[str, dict[str, str]]:
    async def make() -> dict[str, dict[str, str]]:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            await conn.execute(
                "INSERT INTO banks (id, name) VALUES ('bank-a', 'A'), ('bank-b', 'B')"
            )
            keys = {
                "owner": await create_key(conn, Role.ENTERPRISE, "own", enterprise_code=OWNER),
                "other": await create_key(conn, Role.ENTERPRISE, "x", enterprise_code=OTHER),
                "bureau": await create_key(conn, Role.BUREAU, "生态环境局"),
                "bank": await create_key(conn, Role.BANK, "loans", bank_id="bank-a"),
                "stranger": await create_key(conn, Role.BANK, "loans b", bank_id="bank-b"),
            }
            later = datetime.now(UTC) + timedelta(days=30)
            await grant_consent(conn, OWNER, "bank-a", [Scope.ACCOUNT], later, by="test")
            return {k: {"Authorization": f"Bearer {v.key}"} for k, v in keys.items()}

    return asyncio.run(make())


@pytest.fixture
def client(db_url: str) -> TestClient:
    with psycopg.connect(db_url, autocommit=True) as conn:
        register_owner(conn)
        rollup(conn, "pv-1", "energy_generated", local("2026-03-05 12:00"), "12000")
        rollup(conn, "aux-1", "energy_import", local("2026-03-05 12:00"), "500")
    return TestClient(create_app(api_settings(db_url)))


def test_declare_screen_admit_and_read_reductions(client: TestClient, db_url: str) -> None:
    keys = _keys(db_url)
    with client:
        r = client.post("/v1/projects", json=DECLARATION, headers=keys["owner"])
        assert r.status_code == 201, r.text
        assert r.json()["stage"] == "declared"
        r = client.post("/v1/projects/lishui-pv-01/screen", headers=keys["owner"])
        assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json"
        r = client.post("/v1/projects/lishui-pv-01/screen", headers=keys["bureau"])
        assert r.status_code == 200 and r.json()["passed"], r.text
        r = client.post("/v1/projects/lishui-pv-01/screen", headers=keys["bureau"])
        assert r.status_code == 409  # screened already
        r = client.post("/v1/projects/lishui-pv-01/admit", headers=keys["bureau"])
        assert r.json()["stage"] == "admitted"
        r = client.get("/v1/projects/lishui-pv-01/reductions?period=2026-03", headers=keys["bank"])
        assert r.status_code == 200, r.text
        month = r.json()["months"][0]
        assert month["reduction_tco2"] == "5.720100"  # 11.5 MWh x 0.4974
        assert "lines" not in month
        r = client.get("/v1/projects/lishui-pv-01/derivation?period=2026-03", headers=keys["bank"])
        assert r.json()["months"][0]["factors"][0]["id"] == "grid.zhejiang.2023"
        history = client.get("/v1/projects/lishui-pv-01", headers=keys["owner"]).json()["history"]
        assert [t["action"] for t in history] == ["declare", "screen", "admit"]


def test_consent_roles_and_problems(client: TestClient, db_url: str) -> None:
    keys = _keys(db_url)
    with client:
        assert (
            client.post("/v1/projects", json=DECLARATION, headers=keys["owner"]).status_code == 201
        )
        # a bank without the owner's consent: as if the project did not exist
        r = client.get("/v1/projects/lishui-pv-01", headers=keys["stranger"])
        assert r.status_code == 404 and r.json()["detail"] == "project lishui-pv-01 not found"
        assert client.get("/v1/projects/nope", headers=keys["bureau"]).status_code == 404
        # an enterprise declares only its own projects
        other = {**DECLARATION, "id": "x-1"}
        assert client.post("/v1/projects", json=other, headers=keys["other"]).status_code == 404
        bad = {**DECLARATION, "id": "x-2", "meters": {"nope": "generation"}}
        r = client.post("/v1/projects", json=bad, headers=keys["owner"])
        assert r.status_code == 422 and "meter nope is not registered" in r.json()["detail"]
        r = client.get("/v1/projects", headers=keys["bank"])
        assert r.status_code == 403
        assert [p["id"] for p in client.get("/v1/projects", headers=keys["owner"]).json()] == [
            "lishui-pv-01"
        ]
    with psycopg.connect(db_url) as conn:
        actions = {
            (row[0], row[1])
            for row in conn.execute("SELECT action, outcome FROM audit_log").fetchall()
        }
    assert ("project.declare", "granted") in actions
    assert ("project.read", "denied") in actions
