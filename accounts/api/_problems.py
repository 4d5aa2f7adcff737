"""Every error as ``application/problem+json`` (RFC 9457): type, title, status, detail, instance.

Routes raise :class:`Problem`; :func:`install` maps FastAPI's validation errors, Starlette's
404/405 and anything unexpected to the same shape, so a client parses one error format. The
``type`` of each problem is a path under ``/v1/problems/``, which the API also serves.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

import orjson
import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from carbonledger.errors import DatabaseUnavailableError

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"

# slug -> (title, when it happens); docs/api.md lists the same.
PROBLEM_TYPES: dict[str, tuple[str, str]] = {
    "unauthorized": ("Unauthorized", "no API key, or one that is unknown, revoked or expired"),
    "forbidden": ("Forbidden", "the key's role may not use this endpoint"),
    "not-found": ("Not Found", "no such resource visible to this key"),
    "method-not-allowed": ("Method Not Allowed", "the path exists but not with this method"),
    "validation": ("Invalid request", "a parameter or the body is invalid; see errors"),
    "conflict": ("Conflict", "the request contradicts the current state"),
    "webhook-destination": (
        "Webhook destination refused",
        "the webhook URL is or resolves to a loopback, private, link-local or other non-public"
        " address",
    ),
    "rate-limited": ("Too Many Requests", "the key's token bucket is empty; see Retry-After"),
    "unavailable": ("Service Unavailable", "the database cannot be reached; retry later"),
    "internal": ("Internal Server Error", "an unexpected error; it was logged"),
    "http": ("HTTP error", "any other HTTP error status"),
}

_SLUG_BY_STATUS = {
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    422: "validation",
    429: "rate-limited",
    500: "internal",
    503: "unavailable",
}


class ProblemDocument(BaseModel):
    """RFC 9457 problem details; validation problems add ``errors``."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    errors: list[dict[str, str]] | None = None


class Problem(Exception):  # noqa: N818 - an HTTP answer, named as RFC 9457 names it
    """Raise to answer with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        slug: str | None = None,
        headers: dict[str, str] | None = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.slug = slug or _SLUG_BY_STATUS.get(status, "http")
        self.headers = headers or {}
        self.errors = errors


def not_found(what: str) -> Problem:
    return Problem(404, f"{what} not found")


def problem_body(status: int, slug: str, detail: str, instance: str, **extra: Any) -> bytes:
    title = PROBLEM_TYPES[slug][0] if slug != "http" else HTTPStatus(status).phrase
    body = {
        "type": f"/v1/problems/{slug}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
    }
    body.update({k: v for k, v in extra.items() if v is not None})
    return orjson.dumps(body)


def problem_response(request: Request, problem: Problem) -> Response:
    content = problem_body(
        problem.status, problem.slug, problem.detail, request.url.path, errors=problem.errors
    )
    return Response(content, problem.status, headers=problem.headers, media_type=MEDIA_TYPE)


async def _on_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)  # noqa: S101 - registered for this class only
    return problem_response(request, exc)


async def _on_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"no resource at {request.url.path}"
    elif exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}"
    headers = dict(exc.headers or {})
    return problem_response(request, Problem(exc.status_code, detail, headers=headers))


async def _on_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)  # noqa: S101
    errors = [
        {"location": ".".join(str(p) for p in err.get("loc", ())), "message": err.get("msg", "")}
        for err in exc.errors()
    ]
    detail = "; ".join(f"{e['location']}: {e['message']}" for e in errors) or "invalid request"
    return problem_response(request, Problem(422, detail, errors=errors))


async def _on_database(request: Request, exc: Exception) -> Response:
    log.warning("database unavailable", extra={"path": request.url.path, "error": str(exc)})
    problem = Problem(503, "the database is unavailable; retry later", headers={"Retry-After": "5"})
    return problem_response(request, problem)


async def _on_data(request: Request, exc: Exception) -> Response:
    """The database refused a value pydantic let through (a NUL character, say)."""
    return problem_response(request, Problem(422, f"a value cannot be stored: {exc}"))


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    log.error("unexpected error", exc_info=exc, extra={"path": request.url.path})
    return problem_response(request, Problem(500, "unexpected error; it was logged"))


def install(app: FastAPI) -> None:
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(psycopg.OperationalError, _on_database)
    app.add_exception_handler(DatabaseUnavailableError, _on_database)
    app.add_exception_handler(psycopg.DataError, _on_data)
    app.add_exception_handler(Exception, _on_unexpected)


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {
        "description": PROBLEM_TYPES[slug][1],
        "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/ProblemDocument"}}},
    }
    for status, slug in ((401, "unauthorized"), (404, "not-found"), (422, "validation"),
                         (429, "rate-limited"))
}  # fmt: skip
