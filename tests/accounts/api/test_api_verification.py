"""The verifier's workflow over HTTP: the bureau assigns, the verifier reads the closed year
and its derivation, records a finding, signs with an adjustment (a recompute), and a later
recompute supersedes the statement; every step is in the audit log."""

from __future__ import annotations

import asyncio
from pathlib import Path

import psycopg
from fastapi.testclient import TestClient

from accounts.api import Role, create_app, create_key
from accounts.ledger import Period, recompute
from carbonledger.config import load_settings
from tests.accounts.ledger.helpers import DYEING, register
from tests.trust.helpers import CODE, change_value_added, closed_year


def _keys(url: str) -> dict[str, dict[str, str]]:
    async def make() -> dict[str, dict[str, str]]:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            bureau = await create_key(conn, Role.BUREAU, "生态环境局")
            await conn.execute("INSERT INTO verifiers (id, name) VALUES ('zj-verify', '核查中心')")
            verifier = await create_key(
                conn, Role.VERIFIER, "auditor wang", verifier_id="zj-verify"
            )
            return {
                "bureau": {"Authorization": f"Bearer {bureau.key}"},
                "verifier": {"Authorization": f"Bearer {verifier.key}"},
            }

    return asyncio.run(make())


def test_assign_read_find_adjust_sign_and_supersede(db_url: str, tmp_path: Path) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        closed_year(conn)
        register(conn, [DYEING])
        conn.execute(  # what analytics found: the meter silent for a day in March
            "INSERT INTO quality_events (meter_id, quantity, kind, time, enterprise_code, amount,"
            " detail) VALUES ('prt-el1', 'energy_import', 'offline', '2025-03-11 00:00+08',"
            " %s, 86400, 'no reading for 24 h')",
            (CODE,),
        )  # another enterprise the verifier is not assigned to
    keys = _keys(db_url)
    settings = load_settings(database_url=db_url, trust={"key_dir": tmp_path / "keys"})
    base = f"/v1/enterprises/{CODE}"
    with TestClient(create_app(settings)) as client:
        # before the assignment the verifier sees nothing of the enterprise
        assert (
            client.get(f"{base}/account?period=2025", headers=keys["verifier"]).status_code == 404
        )
        response = client.post(
            f"{base}/verification?year=2025",
            json={"verifier_id": "zj-verify"},
            headers=keys["bureau"],
        )
        assert response.status_code == 201, response.text
        account = client.get(f"{base}/account?period=2025", headers=keys["verifier"]).json()
        assert (account["status"], account["version"]) == ("closed", 1)
        derivation = client.get(f"{base}/derivation?period=2025", headers=keys["verifier"])
        assert derivation.status_code == 200
        events = client.get(f"{base}/verification/events?year=2025", headers=keys["verifier"])
        assert [e["kind"] for e in events.json()] == ["offline"]
        other = f"/v1/enterprises/{DYEING}/account?period=2025"
        assert client.get(other, headers=keys["verifier"]).status_code == 404
        finding = client.post(
            f"{base}/verification/findings?year=2025",
            json={"severity": "major", "figure": "economics.value_added", "note": "80, not 100"},
            headers=keys["verifier"],
        )
        assert finding.status_code == 201, finding.text
        with psycopg.connect(db_url, autocommit=True) as conn:
            change_value_added(conn, "80")
        signed = client.post(
            f"{base}/verification/statement?year=2025",
            json={
                "conclusion": "verified_with_adjustments",
                "summary": "meters agree; value added corrected",
                "adjustment": "value added 100 -> 80",
            },
            headers=keys["verifier"],
        )
        assert signed.status_code == 201, signed.text
        assert signed.json()["account_version"] == 2
        assert signed.json()["signed_by"].startswith("auditor wang (clk_")
        account = client.get(f"{base}/account?period=2025", headers=keys["bureau"]).json()
        assert account["version"] == 2 and account["reason"].endswith("value added 100 -> 80")
        with psycopg.connect(db_url, autocommit=True) as conn:
            change_value_added(conn, "90")
            recompute(conn, Period.parse("2025"), "value added revised", codes=[CODE])
        seen = client.get(f"{base}/verification?year=2025", headers=keys["bureau"]).json()
        assert [s["status"] for s in seen["statements"]] == ["superseded"]
        assert [f["severity"] for f in seen["findings"]] == ["major"]
        audit = client.get(f"{base}/audit", headers=keys["bureau"]).json()["items"]
        actions = {(a["action"], a["outcome"]) for a in audit}
        assert {("verification.assign", "granted"), ("verification.finding", "granted"),
                ("verification.conclude", "granted")} <= actions  # fmt: skip
