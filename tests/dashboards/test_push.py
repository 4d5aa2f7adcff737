"""``dashboards push`` against a mocked Grafana HTTP boundary.

No Grafana server can run on these machines, so this is the one mock of the dashboards' tests: a
small HTTP server on 127.0.0.1 that answers the five endpoints the push uses the way Grafana's
HTTP API does (folders by uid, 404 when missing, 409 on a duplicate; dashboards saved by uid,
412 without ``overwrite`` when the uid exists; 401 for a wrong token). grafana-client talks to it
over real HTTP, so the client's URLs, headers and error mapping are exercised.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from carbonledger.errors import GrafanaError
from dashboards import POSTGRES, models, push_dashboards
from launcher.cli import main
from launcher.embedded import free_port

TOKEN = "glsa_test-token"


class FakeGrafana(ThreadingHTTPServer):
    def __init__(self, datasources: set[str]) -> None:
        super().__init__(("127.0.0.1", free_port()), _Handler)
        self.datasources = datasources
        self.folders: dict[str, dict[str, Any]] = {}
        self.dashboards: dict[str, dict[str, Any]] = {}  # uid -> {dashboard, folderUid, version}
        self.calls: list[tuple[str, str]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: FakeGrafana

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, method: str) -> None:  # noqa: PLR0911 - one answer per endpoint
        self.server.calls.append((method, self.path))
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self._answer(401, {"message": "invalid API key"})
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        grafana = self.server
        if method == "GET" and self.path.startswith("/api/datasources/uid/"):
            uid = self.path.rsplit("/", 1)[1]
            if uid in grafana.datasources:
                return self._answer(200, {"uid": uid, "type": POSTGRES.type})
            return self._answer(404, {"message": "Data source not found"})
        if method == "GET" and self.path.startswith("/api/folders/"):
            folder = grafana.folders.get(self.path.rsplit("/", 1)[1])
            return (
                self._answer(200, folder)
                if folder
                else self._answer(404, {"message": "folder not found"})
            )
        if method == "POST" and self.path == "/api/folders":
            if body["uid"] in grafana.folders:
                return self._answer(409, {"message": "a folder with the same uid already exists"})
            grafana.folders[body["uid"]] = {"uid": body["uid"], "title": body["title"]}
            return self._answer(200, grafana.folders[body["uid"]])
        if method == "POST" and self.path == "/api/dashboards/db":
            dashboard, uid = body["dashboard"], body["dashboard"]["uid"]
            if body.get("folderUid") not in grafana.folders:
                return self._answer(400, {"message": "folder not found"})
            old = grafana.dashboards.get(uid)
            if old and not body.get("overwrite"):
                return self._answer(412, {"status": "name-exists"})
            version = old["version"] + 1 if old else 1
            grafana.dashboards[uid] = {"dashboard": dashboard, "folderUid": body["folderUid"],
                                       "version": version}  # fmt: skip
            return self._answer(200, {"uid": uid, "version": version, "status": "success",
                                      "url": f"/d/{uid}/x"})  # fmt: skip
        return self._answer(404, {"message": "not found"})

    def _answer(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def grafana() -> Iterator[FakeGrafana]:
    server = FakeGrafana({POSTGRES.uid})
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_push_twice_leaves_one_copy_of_each_in_the_folder(grafana: FakeGrafana) -> None:
    first = push_dashboards(grafana.url, TOKEN)
    second = push_dashboards(grafana.url, TOKEN)
    assert [p.version for p in first] == [1] * len(models())
    assert [p.version for p in second] == [2] * len(models())  # overwritten by uid, not duplicated
    assert list(grafana.folders) == ["carbonledger"]
    assert grafana.calls.count(("POST", "/api/folders")) == 1  # created once, then found
    assert sorted(grafana.dashboards) == sorted(m["uid"] for m in models())
    for model in models():
        saved = grafana.dashboards[model["uid"]]
        assert saved["folderUid"] == "carbonledger"
        assert saved["dashboard"] == {**model, "id": None}


def test_cli_push_uses_the_token_from_the_environment(
    grafana: FakeGrafana, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GRAFANA_TOKEN", TOKEN)
    assert main(["dashboards", "push", "--url", grafana.url, "--folder", "city-ops"]) == 0
    assert list(grafana.folders) == ["city-ops"]
    assert "pushed carbonledger-city (version 1)" in capsys.readouterr().out
    monkeypatch.delenv("GRAFANA_TOKEN")
    assert main(["dashboards", "push", "--url", grafana.url]) == 1  # no token: a clear error


def test_errors_are_mapped_to_grafana_error(grafana: FakeGrafana) -> None:
    with pytest.raises(GrafanaError, match=r"401.*token was refused") as refused:
        push_dashboards(grafana.url, "wrong")
    assert refused.value.status == 401
    grafana.datasources.clear()
    with pytest.raises(GrafanaError, match="404 for data source carbonledger-postgres: provision"):
        push_dashboards(grafana.url, TOKEN)
    assert grafana.dashboards == {}  # nothing pushed that would show broken panels
    with pytest.raises(GrafanaError, match="cannot be reached") as unreachable:
        push_dashboards(f"http://127.0.0.1:{free_port()}", TOKEN, timeout=2)
    assert unreachable.value.status is None
