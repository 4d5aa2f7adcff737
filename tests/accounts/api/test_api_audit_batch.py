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
