"""What a bureau operator, a bank and a verifier type: ``carbonledger certificate …`` and
``carbonledger verification …`` through ``launcher.cli.main``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import psycopg
import pytest

from launcher.cli import main
from tests.trust.helpers import CODE, change_value_added, closed_year


@pytest.fixture
def city(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("CARBONLEDGER_TRUST__KEY_DIR", str(tmp_path / "keys"))
    monkeypatch.setenv("CARBONLEDGER_TRUST__DEPLOYMENT_ID", "lishui")
    with psycopg.connect(db_url, autocommit=True) as conn:
        closed_year(conn)
    return tmp_path


def _issue(out: Path, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["certificate", "issue", CODE, "--period", "2025", "--out-dir", str(out)]) == 0
    printed = capsys.readouterr().out
    [token_file] = out.glob("crt_*.token")
    assert f"certificate {token_file.stem} for {CODE} 2025: {out}/{token_file.stem}." in printed
    for suffix in (".png", ".svg", ".html"):
        assert token_file.with_suffix(suffix).stat().st_size > 500
    return token_file.read_text().strip()


def test_issue_export_verify_rotate_and_revoke(
    city: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token = _issue(city / "out", capsys)
    keys = city / "keys.json"
    assert main(["certificate", "keys", "export", "--out", str(keys)]) == 0
    assert json.loads(keys.read_text())["deployment"] == "lishui"
    capsys.readouterr()
    assert main(["certificate", "verify", token, "--keys", str(keys)]) == 0
    assert capsys.readouterr().out.startswith("VALID: signed by lishui")
    assert main(["certificate", "keys", "rotate"]) == 0
    assert main(["certificate", "keys", "export", "--out", str(keys)]) == 0
    assert len(json.loads(keys.read_text())["keys"]) == 2
    capsys.readouterr()
    assert main(["certificate", "verify", token, "--keys", str(keys)]) == 0  # still valid
    with _db() as conn:
        change_value_added(conn, "70")
    assert main(["accounts", "recompute", "--year", "2025", "--reason", "statistics revised"]) == 0
    revoked = city / "revoked.json"
    assert main(["certificate", "revocations", "--out", str(revoked)]) == 0
    capsys.readouterr()
    assert main(["certificate", "verify", token, "--keys", str(keys), "--revocations",
                 str(revoked)]) == 1  # fmt: skip
    out = capsys.readouterr().out
    assert out.startswith("REVOKED: revoked: the account was recomputed: version 1 is superseded")


def _db() -> psycopg.Connection:
    return psycopg.connect(os.environ["DATABASE_URL"], autocommit=True)


def test_the_qr_png_decodes_back_to_the_token(
    city: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if shutil.which("zbarimg") is None:
        pytest.skip("zbarimg is not installed (Debian package zbar-tools)")
    token = _issue(city / "out", capsys)
    [png] = (city / "out").glob("crt_*.png")
    done = subprocess.run(
        ["zbarimg", "--raw", "-q", "-Sbinary", str(png)], capture_output=True, timeout=60,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0 and done.stdout.decode().strip() == token


def test_the_verification_commands(city: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verification", "verifier", "zj-verify", "--name", "浙江核查中心"]) == 0
    assert main(["verification", "assign", CODE, "--year", "2025", "--verifier", "zj-verify",
                 "--by", "bureau clerk"]) == 0  # fmt: skip
    finding = ["--severity", "minor", "--figure", "quality.coverage", "--note", "one day offline"]
    assert main(["verification", "finding", "1", "--verifier", "zj-verify", *finding,
                 "--by", "wang"]) == 0  # fmt: skip
    assert main(["verification", "conclude", "1", "--verifier", "zj-verify", "--conclusion",
                 "verified", "--summary", "figures agree", "--by", "wang"]) == 0  # fmt: skip
    _issue(city / "out", capsys)
    assert main(["verification", "withdraw", "1", "--verifier", "zj-verify", "--reason",
                 "meter seals broken"]) == 0  # fmt: skip
    assert main(["verification", "show", CODE, "--year", "2025"]) == 0
    out = capsys.readouterr().out
    assert "statement 1 withdrawn; 1 certificates revoked" in out
    assert "finding 1 [minor] quality.coverage: one day offline (wang)" in out
    assert "statement 1: verified on version 1, withdrawn" in out
