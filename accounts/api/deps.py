"""Typed dependencies of the routes: ``XDep = Annotated[X, Depends(...)]``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, TypeVar

import psycopg
from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from accounts.api._audit import AuditEntry, AuditWriter
from accounts.api._consent import Scope, has_consent
from accounts.api._etag import BodyCache
from accounts.api._keys import Principal, Role, authenticate
from accounts.api._problems import Problem
from accounts.api._ratelimit import RateLimiter, retry_after
from carbonledger.config import Settings
from carbonledger.errors import AccessError

T = TypeVar("T")


@dataclass
class ApiState:
    """What the lifespan opened, shared by the requests of one worker."""

    settings: Settings
    pool: AsyncConnectionPool
    ledger_pool: ConnectionPool
    audit: AuditWriter
    limiter: RateLimiter
    bodies: BodyCache = field(default_factory=lambda: BodyCache(0))
    keys: dict[str, tuple[Principal, float]] = field(default_factory=dict)
    """Authenticated keys by presented key, with when to look them up again (api.key_cache_s)."""


_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="An API key (`carbonledger keys create`): `Authorization: Bearer clk_….…`",
)
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="carbonledger"'}


async def _authenticate(
    state: ApiState, conn: psycopg.AsyncConnection, credentials: HTTPAuthorizationCredentials | None
) -> Principal:
    if credentials is None:
        raise Problem(
            401, "an API key is required: Authorization: Bearer <key>", headers=_CHALLENGE
        )
    token, now = credentials.credentials, time.monotonic()
    cached = state.keys.get(token)
    if cached is not None and cached[1] > now:
        principal = cached[0]
    else:
        try:
            principal = await authenticate(conn, token)
        except AccessError as exc:
            state.keys.pop(token, None)
            raise Problem(401, str(exc), headers=_CHALLENGE) from exc
        if state.settings.api.key_cache_s:
            if len(state.keys) > 10_000:
                state.keys.clear()
            state.keys[token] = (principal, now + state.settings.api.key_cache_s)
    wait = state.limiter.take(principal.key_id, principal.rate_per_s, principal.burst)
    if wait:
        raise Problem(
            429,
            f"key {principal.key_id} is over its rate limit; retry later",
            headers={"Retry-After": retry_after(wait)},
        )
    return principal


@dataclass
class Access:
    """Authorisation of one request, each decision written to the audit log before data leaves."""

    principal: Principal
    conn: psycopg.AsyncConnection
    state: ApiState
    request: Request

    async def audit(self, action: str, enterprise_code: str | None, outcome: str) -> None:
        p, url = self.principal, self.request.url
        entry = AuditEntry(
            key_id=p.key_id,
            role=p.role.value,
            principal=p.subject,
            action=action,
            enterprise_code=enterprise_code,
            outcome=outcome,
            method=self.request.method,
            path=url.path,
            query=url.query,
        )
        await self.state.audit.record(entry)

    async def enterprise(
        self,
        code: str,
        action: str,
        scope: Scope = Scope.ACCOUNT,
        *,
        roles: tuple[Role, ...] = tuple(Role),
        read: Callable[[], Awaitable[T]] | None = None,
    ) -> T | None:
        """Allow the request on enterprise ``code`` or raise 404 (not visible) / 403 (role).

        Enterprises see themselves; banks see what a valid consent covering ``scope`` shows
        them; the bureau and admins see every enterprise. Of those who see it, only ``roles``
        may do ``action`` (writes: the enterprise itself and admins). An enterprise a key may
        not see answers exactly as an unknown one does.

        ``read``, once allowed, runs while the audit entry commits (on another connection), and
        its result is returned once both are done: the data still leaves only after its audit.
        """
        p = self.principal
        if p.role is Role.ENTERPRISE:
            visible = p.enterprise_code == code
        elif p.role is Role.BANK:
            assert p.bank_id is not None  # noqa: S101 - a CHECK constraint guarantees it
            visible = await has_consent(self.conn, p.bank_id, code, scope)
        else:
            cur = await self.conn.execute("SELECT 1 FROM enterprises WHERE code = %s", (code,))
            visible = await cur.fetchone() is not None
        allowed = visible and p.role in roles
        if allowed and read is not None:
            result, _ = await asyncio.gather(read(), self.audit(action, code, "granted"))
            return result
        await self.audit(action, code, "granted" if allowed else "denied")
        if not visible:
            raise Problem(404, f"enterprise {code} not found")
        if not allowed:
            raise Problem(403, f"a {p.role.value} key may not {action.replace('.', ' ')}")
        return None

    async def role(self, action: str, *roles: Role) -> None:
        """Allow only keys of these roles (403 otherwise), audited."""
        allowed = self.principal.role in roles
        await self.audit(action, None, "granted" if allowed else "denied")
        if not allowed:
            names = ", ".join(r.value for r in roles)
            raise Problem(403, f"only {names} keys may use {self.request.url.path}")


async def get_access(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> AsyncIterator[Access]:
    """The one dependency of an authenticated route: a pooled connection, the key, the limits.

    (One dependency rather than a chain: FastAPI's dependency solving is a visible part of the
    cost of a cheap request.)
    """
    state: ApiState = request.app.state.api
    async with state.pool.connection() as conn:
        principal = await _authenticate(state, conn, credentials)
        yield Access(principal, conn, state, request)


AccessDep = Annotated[Access, Depends(get_access)]
