"""``carbonledger finance …`` as a bank operator runs it, and the report page in a real browser."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import psycopg
import pytest

from launcher.cli import main
from tests.finance.helpers import BANK, A, build

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOT = Path("/tmp/finance-report.png")  # noqa: S108 - to look at after a run


@pytest.fixture
def city(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DATABASE_URL", db_url)
    with psycopg.connect(db_url, autocommit=True) as conn:
        build(conn)
    return db_url


def test_book_explain_trend_city_and_publish(city: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["finance", "book", "--bank", BANK, "--year", "2025"]) == 0
    out = capsys.readouterr().out
    assert "financed emissions 8.772 tCO2" in out
    assert "watchlist (grade worsened since origination): L1" in out
    assert main(["finance", "explain", "L4", "--bank", BANK, "--year", "2025"]) == 0
    out = capsys.readouterr().out
    assert "2. attribution (revenue_sector): 3500000 / (250 x (7000 / 1000) x 10000)" in out
    assert main(["finance", "trend", "--bank", BANK]) == 0
    assert "2025-12-31" in capsys.readouterr().out
    assert main(["finance", "publish", "--year", "2025"]) == 0
    assert capsys.readouterr().out == "published 7 loan figures for 2025\n"
    assert main(["finance", "city", "--year", "2025"]) == 0
    out = capsys.readouterr().out
    assert "city-wide, 2025: 7 loans" in out
    with psycopg.connect(city) as conn:
        rows = conn.execute(
            "SELECT bank_id, status FROM loan_figures WHERE loan_id = 'L5'"
        ).fetchall()
    # the bureau's view: consent is a bank's matter; D simply reports no economic data
    assert rows == [(BANK, "no_economic_data")]


def test_import_names_every_bad_line(
    city: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "book.csv"
    path.write_text(
        "loan_id,borrower_credit_code,product,outstanding_yuan,committed_yuan,start_date,"
        "maturity_date,interest_rate,as_of\n"
        f"N1,{A},碳效贷,100,100,2025-01-01,2026-01-01,3,2026-01-31\n"
        f"N2,{A},碳效贷,x,100,2025-01-01,2026-01-01,3,2026-01-31\n",
        encoding="utf-8",
    )
    assert main(["finance", "import", str(path), "--bank", BANK]) == 1
    assert f"{path}:3: outstanding_yuan: 'x' is not a number" in capsys.readouterr().err
    path.write_text(path.read_text().splitlines()[0] + "\n" + path.read_text().splitlines()[1])
    assert main(["finance", "import", str(path), "--bank", BANK]) == 0
    assert "1 loan (1 added, 0 updated, 0 unchanged)" in capsys.readouterr().out


def test_the_report_page_renders_offline_in_chromium(
    city: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "report.html"
    args = ["finance", "report", "--bank", BANK, "--year", "2025", "--format", "html"]
    assert main([*args, "--out", str(page)]) == 0
    for fmt in ("json", "csv"):
        assert main(["finance", "report", "--bank", BANK, "--year", "2025", "--format", fmt]) == 0
    capsys.readouterr()
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium)")
    offline = ["--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND"]
    common = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}", *offline,
              "--window-size=1100,2400"]  # fmt: skip
    dom = subprocess.run(
        [*common, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120,
        check=True,
    ).stdout  # fmt: skip
    assert "8.772 tCO2" in dom and "高碳资产风险敞口" in dom and "L1" in dom
    shot = tmp_path / "report.png"
    subprocess.run([*common, f"--screenshot={shot}", page.as_uri()], capture_output=True,
                   timeout=120, check=True)  # fmt: skip
    assert shot.stat().st_size > 20_000  # a blank page compresses to a few kB
    shutil.copyfile(shot, SCREENSHOT)
