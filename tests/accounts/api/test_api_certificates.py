"""Certificates over HTTP: issued by a key, checked by anyone, shown in a real browser, and
the QR code read back by a real decoder (zbar), not by the encoder's own code."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

from accounts.api import Role, create_app, create_key
from accounts.ledger import recompute
from carbonledger.config import load_settings
from launcher.embedded import free_port
from tests.helpers import wait_for
from tests.trust.helpers import CODE, change_value_added, closed_year
from trust.qr import qr_png, qr_svg

CHROMIUM = "/usr/bin/chromium"


def _admin_key(url: str) -> str:
    async def make() -> str:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            return (await create_key(conn, Role.ADMIN, "ops")).key

    return asyncio.run(make())


@pytest.fixture
def issued(db_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    with psycopg.connect(db_url, autocommit=True) as conn:
        closed_year(conn)
    settings = load_settings(
        database_url=db_url, trust={"key_dir": tmp_path / "keys", "deployment_id": "city-a"}
    )
    key = _admin_key(db_url)
    with TestClient(create_app(settings)) as client:
        response = client.post(
            f"/v1/enterprises/{CODE}/certificates?period=2025",
            headers={"Authorization": f"Bearer {key}"},
        )
        assert response.status_code == 201, response.text
        yield client, response.json()


def test_anyone_checks_an_issued_certificate_without_a_key(
    issued: tuple[TestClient, dict[str, str]], db_url: str
) -> None:
    client, cert = issued
    checked = client.get(f"/v1/certificates/{cert['id']}").json()
    assert (checked["verdict"], checked["code"]) == ("valid", "valid")
    assert checked["certificate"]["enterprise"]["code"] == CODE
    assert client.get("/v1/certificates/crt_0000000000000000").status_code == 404
    keys = client.get("/.well-known/carbonledger-keys.json").json()
    assert keys["deployment"] == "city-a"
    assert [k["kid"] for k in keys["keys"]] == [cert["certificate"]["kid"]]
    page = client.get(f"/verify?token={quote(cert['token'])}")
    assert page.status_code == 200 and "VALID" in page.text
    assert client.get(f"/certificates/{cert['id']}").text.count("<svg") == 1
    with psycopg.connect(db_url, autocommit=True) as conn:
        change_value_added(conn, "80")
        recompute(conn, closed_year_period(), "value added corrected", codes=[CODE])
    checked = client.get(f"/v1/certificates/{cert['id']}").json()
    assert checked["verdict"] == "revoked" and "recomputed" in checked["reason"]
    forged = cert["token"][:-4] + ("AAAA" if not cert["token"].endswith("AAAA") else "BBBB")
    page = client.get(f"/verify?token={quote(forged)}")
    assert "FORGED" in page.text and CODE not in page.text  # a forgery's claims are not shown


def closed_year_period() -> object:
    from accounts.ledger import Period  # noqa: PLC0415

    return Period.parse("2025")


def test_the_qr_code_decodes_back_to_the_token(
    issued: tuple[TestClient, dict[str, str]], tmp_path: Path
) -> None:
    if shutil.which("zbarimg") is None:
        pytest.skip("zbarimg is not installed (Debian package zbar-tools)")
    _, cert = issued
    png = tmp_path / "qr.png"
    png.write_bytes(qr_png(cert["token"]))
    svg = tmp_path / "qr.svg"
    svg.write_text(f'<?xml version="1.0"?>{qr_svg(cert["token"], scale=6)}')
    for image in (png,):
        done = subprocess.run(
            ["zbarimg", "--raw", "-q", "-Sbinary", str(image)],
            capture_output=True, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert done.stdout.decode().strip() == cert["token"]


@pytest.fixture
def served(db_url: str, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """``carbonledger api`` in its own process, with a certificate issued through it."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        closed_year(conn)
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "CARBONLEDGER_TRUST__KEY_DIR": str(tmp_path / "keys"),
        "CARBONLEDGER_TRUST__PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    log_path = tmp_path / "api.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "launcher", "api", "--port", str(port), "--no-watch"],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            assert wait_for(lambda: "startup complete" in log_path.read_text(), 30)
            response = httpx.post(
                f"{base}/v1/enterprises/{CODE}/certificates?period=2025",
                headers={"Authorization": f"Bearer {_admin_key(db_url)}"},
            )
            assert response.status_code == 201, response.text
            yield base, response.json()
        finally:
            proc.terminate()
            proc.wait(15)


def _browser(url: str, out: Path | None = None) -> str:
    """What headless Chromium shows at ``url`` (its DOM), with the network limited to loopback."""
    action = [f"--screenshot={out}", "--window-size=1000,1400"] if out else ["--dump-dom"]
    done = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
         "--virtual-time-budget=5000", *action, url],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _visible_text(dom: str) -> str:
    body = re.sub(r"(?s)<(style|svg)\b.*?</\1>", " ", dom)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))


def test_a_person_sees_the_verdict_and_the_certificate_in_a_browser(
    served: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed (Debian package chromium)")
    base, cert = served
    text = _visible_text(_browser(cert["verify"]))
    assert "VALID : signed by" in text or "VALID: signed by" in text, text
    assert "龙泉括苍汽车部件有限公司" in text and "2025" in text
    assert "Third-party verification not (yet) verified by a third party" in text
    page = _browser(cert["page"])
    assert page.count("<svg") == 1  # the QR code, inline
    text = _visible_text(page)
    assert "Carbon-efficiency certificate 碳效码证书" in text and cert["id"] in text
    assert f"Account version {cert['certificate']['account_version']}" in text
    edited = cert["token"][:-4] + ("AAAA" if not cert["token"].endswith("AAAA") else "BBBB")
    text = _visible_text(_browser(f"{base}/verify?token={quote(edited)}"))
    assert "FORGED : the signature does not match" in text or "FORGED: the signature" in text
    shot = tmp_path / "certificate.png"
    _browser(cert["page"], shot)
    assert shot.stat().st_size > 10_000
    if shutil.which("zbarimg"):  # the QR code as the browser drew it, read by zbar
        done = subprocess.run(
            ["zbarimg", "--raw", "-q", "-Sbinary", str(shot)],
            capture_output=True, timeout=60, check=False,
        )  # fmt: skip
        assert done.stdout.decode().strip() == cert["token"]
