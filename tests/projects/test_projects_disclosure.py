"""The per-loan disclosure for the facility: loans from finance's import, the facility's rule
checked by hand, consent filtering, JSON and CSV, over the CLI and the API."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from accounts.api import Role, Scope, create_app, create_key, grant_consent
from carbonledger.tz import SHANGHAI
from finance import import_loans
from launcher.cli import main
from projects import disclosure
from projects.library import Actor, admit, declare, screen
from tests.accounts.api.helpers import api_settings
from tests.accounts.ledger.helpers import local
from tests.projects.helpers import OTHER, OWNER, declaration, register_owner, rollup

AS_OF = datetime(2027, 1, 15, 10, 0, tzinfo=SHANGHAI)
HEADER = (
    "loan_id,borrower_credit_code,product,green_category,purpose,outstanding_yuan,"
    "committed_yuan,currency,start_date,maturity_date,interest_rate,as_of,project_id\n"
)
BOOK = (
    f"L-1,{OWNER},碳减排贷款,清洁能源,屋顶光伏,4500000,4800000,CNY,2026-01-10,2031-01-09,3.2,2026-06-30,lishui-pv-01\n"
    f"L-1,{OWNER},碳减排贷款,清洁能源,屋顶光伏,4200000,4800000,CNY,2026-01-10,2031-01-09,3.2,2026-12-31,lishui-pv-01\n"
    f"L-2,{OTHER},碳减排贷款,清洁能源,光伏,900000,1000000,CNY,2026-02-01,2030-01-31,3.3,2026-12-31,other-pv\n"
    f"L-3,{OWNER},流动资金贷款,,流动资金,500000,500000,CNY,2026-02-01,2027-01-31,3.9,2026-12-31,\n"
)  # fmt: skip


@pytest.fixture
def book(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DATABASE_URL", db_url)
    bureau, owner = Actor("bureau", "李科长"), Actor("enterprise", "张", OWNER)
    with psycopg.connect(db_url, autocommit=True) as conn:
        register_owner(conn)
        conn.execute("INSERT INTO banks (id, name) VALUES ('bank-a', '丽水农商行')")
        declare(conn, declaration(), owner, AS_OF)
        screen(conn, "lishui-pv-01", bureau, AS_OF)
        admit(conn, "lishui-pv-01", bureau, AS_OF)
        other = declaration(id="other-pv", owner_code=OTHER, meters={"dye-1": "generation"})
        declare(conn, other, Actor("enterprise", "王", OTHER), AS_OF)
        rollup(conn, "pv-1", "energy_generated", local("2026-03-05 12:00"), "12000")
        rollup(conn, "aux-1", "energy_import", local("2026-03-05 12:00"), "500")
        rollup(conn, "pv-1", "energy_generated", local("2026-07-05 12:00"), "20000")
        (tmp_path / "book.csv").write_text(HEADER + BOOK, encoding="utf-8")
        import_loans(conn, "bank-a", tmp_path / "book.csv", today=AS_OF.date())
    asyncio.run(_consent(db_url))
    return db_url


async def _consent(url: str) -> None:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        later = datetime.now(UTC) + timedelta(days=30)
        await grant_consent(conn, OWNER, "bank-a", [Scope.ACCOUNT], later, by="张")


def test_the_facility_rule_by_hand(book: str) -> None:
    """2026 of lishui-pv-01: March (12,000 - 500) kWh and July 20,000 kWh = 31,500 kWh
    = 31.5 MWh x 0.4974 = 15.6681 tCO2 (other months: no readings, 0).
    L-1 as last reported for 2026 (2026-12-31): committed 4,800,000 of 8,000,000 yuan invested,
    share 0.6; attributed 15.6681 x 0.6 = 9.40086 tCO2. L-2 finances OTHER's project without
    its owner's consent: withheld. L-3 finances no project: not in the table."""
    with psycopg.connect(book, autocommit=True) as conn:
        table = disclosure(conn, "bank-a", 2026, AS_OF)
    (line,) = table.lines
    assert line.loan["loan_id"] == "L-1" and str(line.loan["as_of"]) == "2026-12-31"
    assert line.share == Fraction(3, 5)
    assert line.project_reduction == Fraction("15.6681")
    assert line.attributed == Fraction("9.40086")
    assert line.complete  # the year is over and every month could be computed ...
    assert line.flags == ("low_coverage", "no_readings")  # ... but the data are flagged
    assert table.withheld == 1
    row = table.as_json()["loans"][0]
    assert row["attributed_reduction_tco2"] == "9.400860" and row["share"] == "0.600000"


def test_cli_exports_json_and_csv(
    book: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "facility.csv"
    assert main(["projects", "disclosure", "--bank", "bank-a", "--year", "2026", "--format",
                 "csv", "--out", str(out)]) == 0  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert [(r["loan_id"], r["attributed_reduction_tco2"]) for r in rows] == [("L-1", "9.400860")]
    assert (
        main(["projects", "disclosure", "--bank", "bank-a", "--year", "2026", "--format", "json"])
        == 0
    )
    body = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert body["total_attributed_tco2"] == "9.400860" and body["withheld_without_consent"] == 1
    assert main(["projects", "disclosure", "--bank", "bank-a", "--year", "2026"]) == 0
    text = capsys.readouterr().out
    assert "L-1" in text and "9.401" in text and "1 loans withheld" in text


def test_api_serves_the_bank_its_own_table(book: str) -> None:
    async def keys() -> tuple[str, str]:
        async with await psycopg.AsyncConnection.connect(book, autocommit=True) as conn:
            bank = await create_key(conn, Role.BANK, "loans", bank_id="bank-a")
            owner = await create_key(conn, Role.ENTERPRISE, "own", enterprise_code=OWNER)
            return bank.key, owner.key

    bank, owner = asyncio.run(keys())
    with TestClient(create_app(api_settings(book))) as client:
        url = "/v1/projects/facility/disclosure?year=2026"
        r = client.get(url + "&format=csv", headers={"Authorization": f"Bearer {bank}"})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        assert "L-1" in r.text and "9.400860" in r.text and "L-2" not in r.text
        r = client.get(url, headers={"Authorization": f"Bearer {owner}"})
        assert r.status_code == 403
