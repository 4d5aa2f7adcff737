"""Push the dashboards to a running Grafana over its HTTP API (grafana-client).

Idempotent: the folder is looked up by uid and created only when missing, and each dashboard is
saved with ``overwrite`` under its stable uid, so pushing twice leaves one copy of each, and a
dashboard edited in the UI is replaced by the one defined here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import requests
from grafana_client.api import GrafanaApi
from grafana_client.client import GrafanaClientError, GrafanaException

from carbonledger import __version__
from carbonledger.errors import GrafanaError
from dashboards._build import models
from dashboards._model import POSTGRES

log = logging.getLogger(__name__)

FOLDER_UID = "carbonledger"
FOLDER_TITLE = "carbonledger"
_NOT_FOUND = 404
_ALREADY_THERE = (409, 412)

T = TypeVar("T")


@dataclass(frozen=True)
class Pushed:
    """One dashboard as Grafana saved it."""

    uid: str
    version: int
    url: str


def push_dashboards(
    url: str,
    token: str,
    *,
    folder_uid: str = FOLDER_UID,
    folder_title: str = FOLDER_TITLE,
    timeout: float = 10.0,
) -> list[Pushed]:
    """Check the data source exists, create the folder if missing, then save every dashboard
    into it (overwrite by uid); GrafanaError when Grafana refuses or cannot be reached."""
    api = GrafanaApi.from_url(url, credential=token, timeout=timeout)
    _call(f"data source {POSTGRES.uid}", lambda: api.datasource.get_datasource_by_uid(POSTGRES.uid))
    _ensure_folder(api, folder_uid, folder_title)
    pushed = []
    for model in models():
        body = {
            "dashboard": {**model, "id": None},
            "folderUid": folder_uid,
            "overwrite": True,
            "message": f"carbonledger {__version__} dashboards push",
        }
        saved = _save(api, model["uid"], body)
        pushed.append(Pushed(model["uid"], int(saved.get("version", 0)), str(saved.get("url", ""))))
        log.info("dashboard pushed", extra={"uid": model["uid"], "version": saved.get("version")})
    return pushed


def _ensure_folder(api: GrafanaApi, uid: str, title: str) -> None:
    what = f"folder {uid}"
    get = api.folder.get_folder
    if _call(what, lambda: get(uid), missing_ok=True) is not None:
        return
    # another push may create it meanwhile: Grafana then answers 409 (or 412), which is fine
    create = api.folder.create_folder
    _call(what, lambda: create(title, uid=uid), tolerated=_ALREADY_THERE)
    log.info("folder created", extra={"uid": uid, "title": title})


def _save(api: GrafanaApi, uid: str, body: dict[str, Any]) -> dict[str, Any]:
    save = api.dashboard.update_dashboard
    saved = _call(f"dashboard {uid}", lambda: save(body))
    return dict(saved or {})


def _call(
    what: str,
    request: Callable[[], T],
    *,
    missing_ok: bool = False,
    tolerated: tuple[int, ...] = (),
) -> T | None:
    """``request()``; None for a 404 when ``missing_ok`` or a ``tolerated`` status."""
    try:
        return request()
    except GrafanaClientError as exc:
        if (missing_ok and exc.status_code == _NOT_FOUND) or exc.status_code in tolerated:
            return None
        raise _mapped(what, exc) from exc
    except (GrafanaException, requests.RequestException) as exc:
        raise _mapped(what, exc) from exc


def _mapped(what: str, exc: Exception) -> GrafanaError:
    """grafana-client's and requests' errors as the platform's GrafanaError."""
    if isinstance(exc, GrafanaException) and exc.status_code:
        status = int(exc.status_code)
        detail = _message(exc.response) or exc.message
        hint = {401: ": the token was refused", 403: ": the token may not do this"}.get(status, "")
        if status == _NOT_FOUND and what.startswith("data source"):
            hint = ": provision it (deploy/grafana/provisioning) before pushing dashboards"
        return GrafanaError(f"Grafana answered {status} for {what}{hint} ({detail})", status)
    return GrafanaError(f"Grafana cannot be reached for {what}: {exc}")


def _message(response: Any) -> str:
    if isinstance(response, dict):
        return str(response.get("message", ""))
    return str(response or "")
