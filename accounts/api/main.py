"""The FastAPI application: ``create_app(settings)`` builds it, the lifespan opens the pools.

Routers (one per resource, ``routes/``) are mounted under ``/v1``; the OpenAPI document is
``/v1/openapi.json`` and its docs page ``/v1/docs``. The lifespan opens an asyncio pool for the
API's own queries and a small blocking pool for the ledger's functions (``accounts``), which run
in worker threads, and starts the audit writer.
"""

from __future__ import annotations

import gc
import logging
import time
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from psycopg_pool import AsyncConnectionPool, ConnectionPool, PoolTimeout

from accounts.api import _docs_page, _problems
from accounts.api._audit import AuditWriter
from accounts.api._etag import BodyCache
from accounts.api._metrics import ApiMetrics, MetricsMiddleware
from accounts.api._problems import PROBLEM_RESPONSES
from accounts.api._ratelimit import RateLimiter
from accounts.api.deps import ApiState
from accounts.api.routes import (
    accounts,
    bureau,
    certificates,
    consents,
    enterprises,
    export,
    finance_report,
    health,
    keys,
    loans,
    projects,
    timeseries,
    verification,
    watch,
)
from carbonledger import __version__
from carbonledger.config import Settings, require_database_url
from carbonledger.errors import DatabaseUnavailableError

log = logging.getLogger(__name__)

_SESSION = {"autocommit": True, "options": "-c TimeZone=Asia/Shanghai"}

DESCRIPTION = """Carbon accounts, grades and live emissions of the city's key enterprises.

Authenticate with an API key: `Authorization: Bearer clk_….…`. Banks see an enterprise only with
its consent; errors are `application/problem+json`; lists are cursor-paginated. See docs/api.md.
"""


_IDLE_CHECK_S = 5.0
_AUDIT_CONNECTIONS = 8
"""audit batches in flight per worker (each also reads the accounts its requests serve): with
3, a province-wide load on the shared 2-core machine served about 10 % fewer requests a second
than with 8 (benchmarks/api.py); under load batches still hold several entries each"""


class _IdleCheck:
    """The pool's check, skipped for a connection returned less than a few seconds ago: under
    load it would be one more round trip per request; after a pause (a database restart, say)
    a dead connection is still caught before a request gets it."""

    def __init__(self) -> None:
        self._returned: weakref.WeakKeyDictionary[psycopg.AsyncConnection, float] = (
            weakref.WeakKeyDictionary()
        )

    async def returned(self, conn: psycopg.AsyncConnection) -> None:
        self._returned[conn] = time.monotonic()

    async def check(self, conn: psycopg.AsyncConnection) -> None:
        if time.monotonic() - self._returned.get(conn, 0.0) > _IDLE_CHECK_S:
            await AsyncConnectionPool.check_connection(conn)


def create_app(settings: Settings) -> FastAPI:
    url = require_database_url(settings)
    metrics = ApiMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        idle = _IdleCheck()
        pool = AsyncConnectionPool(
            url,
            min_size=1,
            max_size=settings.api.pool_max,
            kwargs=_SESSION,
            check=idle.check,
            reset=idle.returned,
            name="api",
            open=False,
        )
        # the audit writer has its own connections (one per batch in flight): requests wait
        # for it while holding theirs
        audit_pool = AsyncConnectionPool(
            url,
            min_size=_AUDIT_CONNECTIONS,
            max_size=_AUDIT_CONNECTIONS,
            kwargs=_SESSION,
            name="api-audit",
            open=False,
        )
        ledger_pool = ConnectionPool(
            url, min_size=1, max_size=4, kwargs=_SESSION, name="api-ledger", open=False
        )
        try:
            await pool.open()
            await pool.wait(timeout=10)
            await audit_pool.open(wait=True, timeout=10)
            ledger_pool.open(wait=True, timeout=10)
        except PoolTimeout as exc:
            await pool.close()
            await audit_pool.close()
            ledger_pool.close()
            raise DatabaseUnavailableError(f"the API cannot reach the database: {exc}") from exc
        audit = AuditWriter(audit_pool)
        audit.start()
        app.state.api = ApiState(
            settings=settings,
            pool=pool,
            ledger_pool=ledger_pool,
            audit=audit,
            limiter=RateLimiter(
                settings.api.rate_per_s, settings.api.burst, share=1 / settings.api.workers
            ),
            bodies=BodyCache(settings.api.etag_cache),
        )
        metrics.watch("pool", pool.get_stats)
        metrics.watch("audit", lambda: {"batches": audit.batches, "entries": audit.entries})
        # Everything built so far lives as long as the worker: move it out of the collector's
        # reach. Otherwise each full collection walks it all (60 ms: benchmarks/api_gc.py;
        # about 100 ms in a loaded worker, 14 times a minute): those stalls were the API's p99.
        gc.freeze()
        try:
            yield
        finally:
            await audit.stop()
            await audit_pool.close()
            await pool.close()
            ledger_pool.close()

    app = FastAPI(
        title="carbonledger API",
        version=__version__,
        description=DESCRIPTION,
        openapi_url="/v1/openapi.json",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.metrics = metrics
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    _problems.install(app)
    _docs_page.install(app, "/v1/openapi.json")
    app.include_router(health.router)
    app.include_router(certificates.public)
    # each router straight under /v1, not through a /v1 router: FastAPI matches a request by
    # walking the included routers, and at every level re-checks whether any router below
    # changed (a walk of the whole tree); one level less halves the cost of routing
    for router in (
        health.problems,
        *(m.router for m in (keys, enterprises, accounts, timeseries, consents, watch, export)),
        *(m.router for m in (bureau, loans, certificates, verification, finance_report)),
        projects.router,
    ):
        app.include_router(router, prefix="/v1", responses=PROBLEM_RESPONSES)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def app_from_environment() -> FastAPI:
    """The app of a uvicorn worker: settings from the environment and CARBONLEDGER_CONFIG."""
    import os  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    from carbonledger import logs  # noqa: PLC0415
    from carbonledger.config import load_settings  # noqa: PLC0415

    config = os.environ.get("CARBONLEDGER_CONFIG")
    settings = load_settings(Path(config) if config else None)
    logs.configure(settings.log_format, settings.log_level)
    return create_app(settings)


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        schema.setdefault("components", {}).setdefault("schemas", {})["ProblemDocument"] = (
            _problems.ProblemDocument.model_json_schema()
        )
        app.openapi_schema = schema
    return app.openapi_schema
