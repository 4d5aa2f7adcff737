"""Concurrent requests share one audit statement, which decides each entry's access: every
request gets its own decision back, whatever else is in its batch."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import psycopg

from accounts.api import create_app
from tests.accounts.api.helpers import GRANTED, STATES, UNKNOWN, World, auth

# who sees which consent state (tests/accounts/api/helpers.py builds one enterprise per state)
SEES = {
    "bank": {"granted", "account-only"},
    "enterprise": {"granted"},
    "bureau": set(STATES) - {"unknown"},
}


async def _concurrently(
    world: World, marker: str, rounds: int
) -> tuple[list[tuple[str, str, int]], int]:
    app = create_app(world.settings)
    calls = [
        (role, state, f"/v1/enterprises/{code}/account?period=mtd&probe={marker}")
        for _ in range(rounds)
        for role in SEES
        for state, code in STATES.items()
    ]
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            answers = await asyncio.gather(
                *(client.get(path, headers=auth(world.keys[role])) for role, _, path in calls)
            )
        batches = app.state.api.audit.batches
    statuses = [answer.status_code for answer in answers]
    return [
        (role, state, status) for (role, state, _), status in zip(calls, statuses, strict=True)
    ], batches


def test_each_request_in_a_batch_gets_its_own_decision(world: World) -> None:
    marker, rounds = uuid.uuid4().hex, 3
    answered, batches = asyncio.run(_concurrently(world, marker, rounds))

    expected = [(role, state, 200 if state in SEES[role] else 404) for role, state, _ in answered]
    assert answered == expected
    assert batches < len(answered)  # entries did share statements
    with psycopg.connect(world.url) as conn:
        logged = conn.execute(
            "SELECT role, trim(enterprise_code), outcome, count(*) FROM audit_log"
            " WHERE query LIKE %s GROUP BY 1, 2, 3",
            (f"%probe={marker}",),
        ).fetchall()
    code_state = {code: state for state, code in STATES.items()}
    assert {(role, code_state[code], outcome, n) for role, code, outcome, n in logged} == {
        (role, state, "granted" if state in SEES[role] else "denied", rounds)
        for role in SEES
        for state in STATES
    }
    assert GRANTED in {code for _, code, _, _ in logged}
    assert UNKNOWN in {code for _, code, _, _ in logged}  # unknown codes are logged too


async def _while_audit_refuses(world: World, marker: str) -> list[httpx.Response]:
    app = create_app(world.settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            return await asyncio.gather(
                *(
                    client.get(
                        f"/v1/enterprises/{GRANTED}/account?period=mtd&probe={marker}&n={n}",
                        headers=auth(world.keys["bank"]),
                    )
                    for n in range(8)
                )
            )


def test_a_failed_audit_commit_fails_every_request_of_its_batch(world: World) -> None:
    """No body leaves whose audit row was not committed: the batch's statement fails (a real
    constraint refusing these requests' rows), so each of its requests answers 503."""
    marker = uuid.uuid4().hex
    refuse = f"audit_refuses_{marker[:8]}"
    with psycopg.connect(world.url, autocommit=True) as conn:
        conn.execute(
            f"ALTER TABLE audit_log ADD CONSTRAINT {refuse}"
            f" CHECK (query NOT LIKE '%probe={marker}%') NOT VALID"
        )
    try:
        answers = asyncio.run(_while_audit_refuses(world, marker))
    finally:
        with psycopg.connect(world.url, autocommit=True) as conn:
            conn.execute(f"ALTER TABLE audit_log DROP CONSTRAINT {refuse}")
    assert [a.status_code for a in answers] == [503] * 8
    assert {a.headers["content-type"] for a in answers} == {"application/problem+json"}
    assert all(b'"enterprise_code"' not in a.content for a in answers)
    with psycopg.connect(world.url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM audit_log WHERE query LIKE %s", (f"%probe={marker}%",)
        ).fetchone()
    assert row == (0,)
