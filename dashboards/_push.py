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

import niquests
from grafana_client import GrafanaApi
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
    """Create the folder if missing, then save every dashboard into it (overwrite by uid)."""
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
        saved = _call(f"dashboard {model['uid']}", lambda b=body: api.dashboard.update_dashboard(b))
        pushed.append(Pushed(model["uid"], int(saved.get("version", 0)), str(saved.get("url", ""))))
        log.info("dashboard pushed", extra={"uid": model["uid"], "version": saved.get("version")})
    return pushed


def _ensure_folder(api: GrafanaApi, uid: str, title: str) -> None:
    try:
        api.folder.get_folder(uid)
        return
    except GrafanaClientError as exc:
        if exc.status_code != _NOT_FOUND:
            raise _mapped(f"folder {uid}", exc) from exc
    except (GrafanaException, niquests.exceptions.RequestException) as exc:
        raise _mapped(f"folder {uid}", exc) from exc
    try:
        api.folder.create_folder(title, uid=uid)
    except GrafanaClientError as exc:
        if exc.status_code not in _ALREADY_THERE:  # another push created it meanwhile
            raise _mapped(f"folder {uid}", exc) from exc
    except (GrafanaException, niquests.exceptions.RequestException) as exc:
        raise _mapped(f"folder {uid}", exc) from exc
    log.info("folder created", extra={"uid": uid, "title": title})


def _call(what: str, request: Callable[[], T]) -> T:
    try:
        return request()
    except (GrafanaException, niquests.exceptions.RequestException) as exc:
        raise _mapped(what, exc) from exc


def _mapped(what: str, exc: Exception) -> GrafanaError:
    """grafana-client's and niquests' errors as the platform's GrafanaError."""
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
