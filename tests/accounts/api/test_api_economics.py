"""Economic data uploaded through the API passes the registry's rules, the same as a CSV import."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.accounts.api.helpers import GRANTED, World, auth


@pytest.mark.parametrize(
    ("record", "location", "message"),
    [
        ({"period": "1900", "revenue": "1"}, "period", "outside 2000-2100"),
        ({"period": "2099-01", "revenue": "1"}, "period", "has not begun yet"),
        (
            {"period": "2025", "output_quantity": "10", "output_unit": "t"},
            "value_added",
            "give value_added or revenue",
        ),
        ({"period": "2025", "revenue": "1", "output_quantity": "10"}, "output_unit", "together"),
        ({"period": "2025-13", "revenue": "1"}, "period", "month 13 is not 01-12"),
    ],
)
def test_an_upload_is_refused_where_an_import_would_be(
    client: TestClient, world: World, record: dict[str, str], location: str, message: str
) -> None:
    response = client.post(
        f"/v1/enterprises/{GRANTED}/economic-data",
        headers=auth(world.keys["enterprise"]),
        json={"records": [{"period": "2025-01", "revenue": "5"}, record]},
    )
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert [e["location"] for e in errors] == [f"body.records.1.{location}"]
    assert message in errors[0]["message"]


def test_the_same_period_twice_is_refused(client: TestClient, world: World) -> None:
    response = client.post(
        f"/v1/enterprises/{GRANTED}/economic-data",
        headers=auth(world.keys["enterprise"]),
        json={
            "records": [
                {"period": "2025-02", "revenue": "5"},
                {"period": "2025-02", "revenue": "6"},
            ]
        },
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["location"] == "body.records.1.period"
