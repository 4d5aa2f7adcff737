"""Typed dependencies of the routes: ``XDep = Annotated[X, Depends(...)]``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated

import psycopg
from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from accounts.api._audit import AuditEntry, AuditWriter, Decision, Stamp, Visibility
from accounts.api._consent import Scope
from accounts.api._etag import BodyCache
from accounts.api._keys import Principal, Role, authenticate
from accounts.api._problems import Problem
from accounts.api._ratelimit import RateLimiter, retry_after
from accounts.api._verifiers import assigned
from carbonledger.config import Settings
from carbonledger.errors import AccessError


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
    state: ApiState,
    credentials: HTTPAuthorizationCredentials | None,
    conn: psycopg.AsyncConnection | None = None,
) -> Principal:
    """The key's principal (cached for api.key_cache_s) once its rate limit allows; a key not
    cached is looked up on ``conn``, or on a connection of its own."""
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
            if conn is not None:
                principal = await authenticate(conn, token)
            else:
                async with state.pool.connection() as own:
                    principal = await authenticate(own, token)
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
    state: ApiState
    request: Request

    def _record(
        self,
        action: str,
        code: str | None,
        visibility: Visibility,
        permitted: bool = True,
        *,
        account: tuple[str, date] | None = None,
        cached: Stamp | None = None,
    ) -> asyncio.Future[Decision]:
        p, url = self.principal, self.request.url
        entry = AuditEntry(
            key_id=p.key_id,
            role=p.role.value,
            principal=p.subject,
            action=action,
            enterprise_code=code,
            method=self.request.method,
            path=url.path,
            query=url.query,
            visibility=visibility,
            permitted=permitted,
            account=account,
            cached=cached,
        )
        return self.state.audit.record(entry)

    async def audit(self, action: str, enterprise_code: str | None, outcome: str) -> None:
        """Record an access the route has decided itself (``granted`` or ``denied``)."""
        await self._record(action, enterprise_code, Visibility.decided(outcome == "granted"))

    async def enterprise(
        self,
        code: str,
        action: str,
        scope: Scope = Scope.ACCOUNT,
        *,
        roles: tuple[Role, ...] = tuple(Role),
        account: tuple[str, date] | None = None,
        cached: Stamp | None = None,
    ) -> Decision:
        """Allow the request on enterprise ``code`` or raise 404 (not visible) / 403 (role).

        Enterprises see themselves; banks see what a valid consent covering ``scope`` shows
        them; verifiers the enterprises they are assigned to; the bureau and admins every
        enterprise. Of those who see it, only ``roles``
        may do ``action`` (writes: the enterprise itself and admins). An enterprise a key may
        not see answers exactly as an unknown one does. The database decides consent and
        existence in the statement that writes the audit entry (:mod:`accounts.api._audit`).

        With ``account`` (period kind, start), that statement also reads the account's version
        stamp (None if the account is not stored) and, unless it is ``cached`` (the stamp of the
        body the caller holds), the stored account: the decision returned once access is allowed.
        """
        p = self.principal
        if p.role is Role.ENTERPRISE:
            visibility = Visibility.decided(p.enterprise_code == code)
        elif p.role is Role.BANK:
            assert p.bank_id is not None  # noqa: S101 - a CHECK constraint guarantees it
            visibility = Visibility.consented(p.bank_id, scope.value)
        elif p.role is Role.VERIFIER:
            assert p.verifier_id is not None  # noqa: S101 - a CHECK constraint guarantees it
            visibility = Visibility.decided(await assigned(self.state.pool, p.verifier_id, code))
        else:
            visibility = Visibility.registered()
        permitted = p.role in roles
        decision = await self._record(
            action, code, visibility, permitted, account=account, cached=cached
        )
        if not decision.visible:
            raise Problem(404, f"enterprise {code} not found")
        if not permitted:
            raise Problem(403, f"a {p.role.value} key may not {action.replace('.', ' ')}")
        return decision

    async def role(self, action: str, *roles: Role) -> None:
        """Allow only keys of these roles (403 otherwise), audited."""
        allowed = self.principal.role in roles
        await self._record(action, None, Visibility.decided(allowed))
        if not allowed:
            names = ", ".join(r.value for r in roles)
            raise Problem(403, f"only {names} keys may use {self.request.url.path}")


@dataclass
class DbAccess(Access):
    """Access with a pooled connection for the route's own queries."""

    conn: psycopg.AsyncConnection


async def get_access(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> Access:
    """The key (looked up once per api.key_cache_s) and its rate limit, for a route that has
    no query of its own (the account's: its version stamp comes with the access decision).

    (One dependency rather than a chain, and no generator: FastAPI's dependency solving, and
    the exit stack of a generator dependency, are a visible part of the cost of a cheap request.)
    """
    state: ApiState = request.app.state.api
    return Access(await _authenticate(state, credentials), state, request)


async def get_db_access(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> AsyncIterator[DbAccess]:
    """The key, its rate limit and a pooled connection, held until the response is sent."""
    state: ApiState = request.app.state.api
    async with state.pool.connection() as conn:
        yield DbAccess(await _authenticate(state, credentials, conn), state, request, conn)


AccessDep = Annotated[Access, Depends(get_access)]
DbAccessDep = Annotated[DbAccess, Depends(get_db_access)]
