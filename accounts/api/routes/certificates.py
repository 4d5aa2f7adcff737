"""Certificates: the public check (no key), the published keys, the pages, and issuing.

Anyone holding a certificate may check it, so ``/verify``, ``/v1/certificates/{id}``, the
certificate page and ``/.well-known/carbonledger-keys.json`` need no key and show nothing the
certificate does not already show. Issuing one is for the enterprise itself, the bureau and
admins. The work is :mod:`trust`'s (blocking psycopg, run on the ledger pool in a thread).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import orjson
import psycopg
from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from accounts.api._common import EnterpriseCode
from accounts.api._keys import Role
from accounts.api._problems import Problem
from accounts.api.deps import AccessDep, ApiState
from accounts.ledger import Period
from carbonledger.errors import TrustError, UnknownEnterpriseError
from trust import PublicKeys, open_ring, published_keys
from trust.certificates import check_online, find_token, issue
from trust.pages import certificate_page, verification_page
from trust.tokens import Check, open_token

router = APIRouter(tags=["certificates"])
public = APIRouter(tags=["certificates"])
"""Mounted at the root: the pages and the well-known key set."""

T = TypeVar("T")
CertificateId = Annotated[str, Path(pattern="^crt_[a-z0-9]{16}$", description="certificate id")]
_MAX_TOKEN = 4_000


class CertificateCheck(BaseModel):
    verdict: str
    code: str
    reason: str
    certificate: dict[str, Any] | None


class IssuedCertificate(BaseModel):
    id: str
    token: str
    certificate: dict[str, Any]
    page: str
    verify: str


def _state(request: Request) -> ApiState:
    state: ApiState = request.app.state.api
    return state


async def _run(state: ApiState, call: Callable[[psycopg.Connection[Any]], T]) -> T:
    def run() -> T:
        with state.ledger_pool.connection() as conn:
            return call(conn)

    return await asyncio.to_thread(run)


def _keys(state: ApiState) -> PublicKeys:
    keys = published_keys(state.settings.trust)
    if keys is None:
        raise Problem(404, "this deployment has issued no certificate yet: it has no keys")
    return keys


async def _check(state: ApiState, token: str) -> Check:
    now, keys = datetime.now(UTC), _keys(state)
    return await _run(state, lambda conn: check_online(conn, token, keys, now))


@public.get(
    "/.well-known/carbonledger-keys.json",
    summary="the public keys that verify this deployment's certificates (no key needed)",
)
async def well_known_keys(request: Request) -> Response:
    keys = _keys(_state(request))
    return Response(orjson.dumps(keys.as_json()), media_type="application/json")


@public.get("/verify", response_class=HTMLResponse, summary="the public verification page")
async def verify_page(
    request: Request, token: Annotated[str | None, Query(max_length=_MAX_TOKEN)] = None
) -> HTMLResponse:
    if not token:
        return HTMLResponse(verification_page(None))
    return HTMLResponse(verification_page(await _check(_state(request), token)))


async def _issued_token(state: ApiState, certificate_id: str) -> str:
    """The token of an issued certificate, or a 404."""
    token = await _run(state, lambda conn: find_token(conn, certificate_id))
    if token is None:
        raise Problem(404, f"certificate {certificate_id} not found")
    return token


@public.get(
    "/certificates/{certificate_id}",
    response_class=HTMLResponse,
    summary="the printable certificate page, with its QR code",
)
async def printable(request: Request, certificate_id: CertificateId) -> HTMLResponse:
    state = _state(request)
    token = await _issued_token(state, certificate_id)
    _, _, payload = open_token(token)
    return HTMLResponse(
        certificate_page(token, payload, f"{state.settings.trust.public_url}/verify")
    )


@router.get(
    "/certificates/{certificate_id}",
    response_model=CertificateCheck,
    summary="is this issued certificate valid, expired, revoked or forged, and why (no key)",
)
async def certificate(request: Request, certificate_id: CertificateId) -> CertificateCheck:
    state = _state(request)
    token = await _issued_token(state, certificate_id)
    return CertificateCheck.model_validate((await _check(state, token)).as_json())


@router.post(
    "/enterprises/{code}/certificates",
    response_model=IssuedCertificate,
    status_code=201,
    summary="issue a signed certificate of a closed month or year",
)
async def issue_certificate(
    access: AccessDep,
    code: EnterpriseCode,
    period: Annotated[str, Query(max_length=7, description="`YYYY-MM` or `YYYY`, closed")],
) -> IssuedCertificate:
    await access.enterprise(
        code, "certificate.issue", roles=(Role.ENTERPRISE, Role.BUREAU, Role.ADMIN)
    )
    try:
        wanted = Period.parse(period)
    except ValueError as exc:
        raise Problem(422, f"period: {exc}") from exc
    state, now = access.state, datetime.now(UTC)
    ring = open_ring(state.settings.trust, now)
    try:
        cert = await _run(
            state, lambda conn: issue(conn, code, wanted, ring, state.settings, now=now)
        )
    except UnknownEnterpriseError as exc:
        raise Problem(404, f"enterprise {code} not found") from exc
    except TrustError as exc:
        raise Problem(409, str(exc)) from exc
    base = state.settings.trust.public_url
    return IssuedCertificate(
        id=cert.id,
        token=cert.token,
        certificate=cert.payload,
        page=f"{base}/certificates/{cert.id}",
        verify=f"{base}/verify?token={cert.token}",
    )
