"""``/v1/docs`` in a real browser that can reach nothing but the API: what a person sees.

Chromium runs headless with every host name unresolvable except 127.0.0.1 and every other
connection sent to a dead proxy, as on a bank's or a bureau's offline network. The page must
render Swagger UI's operations from the API's own assets.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.accounts.api.helpers import Server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
OFFLINE = [
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--proxy-server=127.0.0.1:9",
    "--proxy-bypass-list=127.0.0.1",
]


def browse(url: str, profile: Path, *action: str) -> str:
    """Run headless Chromium offline on ``url`` with ``action`` (--dump-dom, --screenshot=...)."""
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium)")
    done = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            f"--user-data-dir={profile}",
            *OFFLINE,
            "--virtual-time-budget=20000",
            "--window-size=1280,1600",
            *action,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout


def test_the_docs_page_renders_its_operations_offline(server: Server, tmp_path: Path) -> None:
    dom = browse(f"{server.url}/v1/docs", tmp_path / "profile", "--dump-dom")
    assert 'class="swagger-ui' in dom
    assert dom.count('class="opblock ') > 25  # one per operation, as a person sees them
    assert "/v1/enterprises/{code}/account" in dom
    shot = tmp_path / "docs.png"
    browse(f"{server.url}/v1/docs", tmp_path / "profile", f"--screenshot={shot}")
    assert shot.stat().st_size > 20_000  # a white page compresses to a few kB
