"""The bureau's overview from rollups: city, district and industry totals now and today."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import psycopg
import pytest
from fastapi.testclient import TestClient

from accounts.api.routes import bureau
from tests.accounts.api.helpers import World, auth

A = "91331102MA2A0AAA1X"  # 莲都区, 3011 cement
B = "91331181MA2B0BBB2Y"  # 龙泉市, 1713 dyeing
NOW = datetime(2026, 11, 30, 12, 7, tzinfo=UTC)  # 20:07 local; the day began 2026-11-29T16:00Z


def _rollups(url: str) -> None:
    with psycopg.connect(url) as conn:
        for code, district, industry, meters in (
            (A, "莲都区", "3011", [("a-el", "electricity", "energy_import", "kWh")]),
            (B, "龙泉市", "1713", [("b-el", "electricity", "energy_import", "kWh"),
                                   ("b-gas", "natural_gas", "gas_volume", "Nm3")]),
        ):  # fmt: skip
            conn.execute(
                "INSERT INTO enterprises (code, name, industry_code, district)"
                " VALUES (%s, %s, %s, %s)",
                (code, code[-4:], industry, district),
            )
            conn.execute(
                "INSERT INTO gateways (id, enterprise_code) VALUES (%s, %s)",
                (f"g{code[-4:]}", code),
            )
            for meter, carrier, quantity, unit in meters:
                conn.execute(
                    "INSERT INTO meters (id, enterprise_code, gateway_id, carrier, quantity, unit)"
                    " VALUES (%s, %s, %s, %s, %s, %s)",
                    (meter, code, f"g{code[-4:]}", carrier, quantity, unit),
                )
        rows = [
            (A, "a-el", "energy_import", "2026-11-30T11:45Z", 25_000),  # 2.5 kWh, the "now" bucket
            (A, "a-el", "energy_import", "2026-11-30T10:00Z", 25_000),  # 2.5
            (A, "a-el", "energy_import", "2026-11-29T16:00Z", 25_000),  # 2.5, local midnight
            (A, "a-el", "energy_import", "2026-11-29T15:45Z", 1_000_000),  # yesterday: not counted
            (
                A,
                "a-el",
                "energy_import",
                "2026-11-30T12:00Z",
                10_000,
            ),  # 1.0, in progress: today only
            *[
                (B, "b-el", "energy_import", f"2026-11-30T08:{m:02d}Z", 12_500)
                for m in (0, 15, 30, 45)
            ],
            (B, "b-gas", "gas_volume", "2026-11-30T11:30Z", 100_000),  # 10 Nm3
            (B, "b-gas", "gas_volume", "2026-11-30T11:45Z", 100_000),  # 10 Nm3, now
        ]
        for code, meter, quantity, bucket, fp in rows:
            conn.execute(
                "INSERT INTO rollups_15m (bucket, enterprise_code, meter_id, quantity, activity_fp,"
                " covered_ms, estimated_ms) VALUES (%s, %s, %s, %s, %s, 900000, 0)",
                (bucket, code, meter, quantity, fp),
            )


def test_overview_totals(client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    _rollups(world.url)
    monkeypatch.setattr(bureau, "utcnow", lambda: NOW)
    body = client.get("/v1/bureau/overview", headers=auth(world.keys["bureau"])).json()
    assert (body["now"]["start"], body["now"]["end"]) == (
        "2026-11-30T11:45:00Z",
        "2026-11-30T12:00:00Z",
    )

    def totals(group: list[dict[str, str]]) -> dict[str, tuple[Decimal, Decimal]]:
        return {c["carrier"]: (Decimal(c["energy_now"]), Decimal(c["energy_today"])) for c in group}

    # electricity today: A 2.5 x 3 + 1.0 = 8.5, B 1.25 x 4 = 5, together 13.5; now: A's 2.5
    # gas: B 10 + 10 = 20 today, 10 now
    assert totals(body["city"]) == {
        "electricity": (Decimal("2.5"), Decimal("13.5")),
        "natural_gas": (Decimal(10), Decimal(20)),
    }
    districts = {g["name"]: totals(g["carriers"]) for g in body["districts"]}
    assert districts == {
        "莲都区": {"electricity": (Decimal("2.5"), Decimal("8.5"))},
        "龙泉市": {
            "electricity": (Decimal(0), Decimal(5)),
            "natural_gas": (Decimal(10), Decimal(20)),
        },
    }
    industries = {g["name"]: totals(g["carriers"]) for g in body["industries"]}
    assert set(industries) == {"30", "17"}
    assert industries["30"] == {"electricity": (Decimal("2.5"), Decimal("8.5"))}
    assert body["two_high_threshold_tce"] == "5000"
