"""Schemathesis against the OpenAPI document of a running server: no input gives a 5xx.

Kept small (a few examples per operation and key) so it runs in seconds; every operation is
called with an admin key (which reaches nearly everything) and a bank key.
"""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tests.accounts.api.helpers import Server, World, auth

FEW = settings(
    max_examples=5,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)


@pytest.mark.parametrize("role", ["admin", "bank"])
def test_no_input_gives_a_server_error(server: Server, world: World, role: str) -> None:
    schema = schemathesis.openapi.from_url(f"{server.url}/v1/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 25
    for operation in operations:

        @given(case=operation.as_strategy())
        @FEW
        def no_server_error(case: schemathesis.Case) -> None:
            case.call_and_validate(
                base_url=server.url, headers=auth(world.keys[role]), checks=[not_a_server_error]
            )

        no_server_error()


def test_the_document_and_its_docs_page_are_served(server: Server) -> None:
    document = httpx.get(f"{server.url}/v1/openapi.json").json()
    assert "/v1/enterprises/{code}/account" in document["paths"]
    assert document["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"
    page = httpx.get(f"{server.url}/v1/docs")
    assert page.status_code == 200 and "swagger" in page.text.lower()
