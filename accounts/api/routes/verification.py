"""Third-party verification over HTTP: the bureau registers verifiers and assigns them; the
assigned verifier records findings, signs a statement, or withdraws it; everyone who sees the
enterprise reads the verification of a year. The work is :mod:`trust.verification`'s.

A verifier's key sees only the enterprises its body is assigned to (:mod:`accounts.api.deps`):
through it, the verifier reads the account, derivation and time series with the ordinary
endpoints. Every decision is written to the audit log.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import psycopg
from fastapi import APIRouter, Body, Path, Query
from pydantic import BaseModel, Field

from accounts.api._common import EnterpriseCode
from accounts.api._keys import Principal, Role
from accounts.api._problems import Problem
from accounts.api.deps import Access, AccessDep
from carbonledger.errors import TrustError, UnknownEnterpriseError
from trust import verification as v
from trust.terms import Conclusion, Severity

router = APIRouter(tags=["verification"])

T = TypeVar("T")
BUREAU = (Role.BUREAU, Role.ADMIN)
YearQuery = Annotated[int, Query(ge=2000, le=2100, description="the account year verified")]
_ID = r"^[a-z0-9][a-z0-9._-]{0,63}$"


class NewVerifier(BaseModel):
    id: str = Field(pattern=_ID)
    name: str = Field(min_length=1, max_length=200)


class NewAssignment(BaseModel):
    verifier_id: str = Field(pattern=_ID)


class NewFinding(BaseModel):
    severity: Severity
    figure: str = Field(min_length=1, max_length=200, examples=["totals.scope1"])
    note: str = Field(min_length=1, max_length=4_000)


class NewStatement(BaseModel):
    conclusion: Conclusion
    summary: str = Field(min_length=1, max_length=4_000)
    adjustment: str | None = Field(
        None, max_length=1_000, description="with verified_with_adjustments: the recompute reason"
    )


class Withdrawal(BaseModel):
    reason: str = Field(min_length=1, max_length=1_000)


class VerificationOfYear(BaseModel):
    assignment: dict[str, Any] | None
    findings: list[dict[str, Any]]
    statements: list[dict[str, Any]]


def _who(p: Principal) -> str:
    return f"{p.name} ({p.key_id})"


def _verifier(access: Access) -> str:
    verifier_id = access.principal.verifier_id
    assert verifier_id is not None  # noqa: S101 - a verifier key has one (CHECK constraint)
    return verifier_id


async def _run(access: Access, call: Callable[[psycopg.Connection[Any]], T]) -> T:
    def run() -> T:
        with access.state.ledger_pool.connection() as conn:
            return call(conn)

    try:
        return await asyncio.to_thread(run)
    except v.NoAssignmentError as exc:
        raise Problem(404, str(exc)) from exc
    except UnknownEnterpriseError as exc:
        raise Problem(404, str(exc)) from exc
    except TrustError as exc:
        raise Problem(409, str(exc)) from exc


@router.post(
    "/verifiers", status_code=201, response_model=NewVerifier, summary="register a verifier"
)
async def register(access: AccessDep, body: Annotated[NewVerifier, Body()]) -> NewVerifier:
    await access.role("verifier.register", *BUREAU)
    await _run(access, lambda conn: v.register_verifier(conn, body.id, body.name))
    return body


@router.post(
    "/enterprises/{code}/verification",
    status_code=201,
    summary="assign a verifier to an enterprise-year (bureau)",
)
async def assign(
    access: AccessDep,
    code: EnterpriseCode,
    year: YearQuery,
    body: Annotated[NewAssignment, Body()],
) -> dict[str, Any]:
    await access.enterprise(code, "verification.assign", roles=BUREAU)
    settings, now, by = access.state.settings, datetime.now(UTC), _who(access.principal)
    found = await _run(
        access,
        lambda conn: v.assign(
            conn, body.verifier_id, code, year, by=by, now=now, settings=settings
        ),
    )
    return vars(found)


@router.get(
    "/enterprises/{code}/verification",
    response_model=VerificationOfYear,
    summary="the verification of an enterprise-year: assignment, findings, statements",
)
async def read(access: AccessDep, code: EnterpriseCode, year: YearQuery) -> VerificationOfYear:
    await access.enterprise(code, "verification.read")
    settings, now = access.state.settings, datetime.now(UTC)

    def gather(conn: psycopg.Connection[Any]) -> VerificationOfYear:
        found = v.assignment_for(conn, code, year)
        if found is None:
            return VerificationOfYear(assignment=None, findings=[], statements=[])
        return VerificationOfYear(
            assignment=vars(found),
            findings=[vars(f) for f in v.findings(conn, found.id)],
            statements=[
                vars(s) for s in v.statements(conn, code, year, settings=settings, now=now)
            ],
        )

    return await _run(access, gather)


@router.get(
    "/enterprises/{code}/verification/events",
    summary="the meters' data-quality events of the year (evidence for the verifier)",
)
async def events(access: AccessDep, code: EnterpriseCode, year: YearQuery) -> list[dict[str, Any]]:
    await access.enterprise(
        code, "verification.events", roles=(Role.VERIFIER, Role.ENTERPRISE, *BUREAU)
    )
    return [vars(e) for e in await _run(access, lambda conn: v.quality_events(conn, code, year))]


def _assignment(conn: psycopg.Connection[Any], code: str, year: int) -> v.Assignment:
    found = v.assignment_for(conn, code, year)
    if found is None:
        raise v.NoAssignmentError(f"no verifier is assigned to {code} {year}")
    return found


@router.post(
    "/enterprises/{code}/verification/findings",
    status_code=201,
    summary="record a finding (the assigned verifier)",
)
async def finding(
    access: AccessDep, code: EnterpriseCode, year: YearQuery, body: Annotated[NewFinding, Body()]
) -> dict[str, Any]:
    await access.enterprise(code, "verification.finding", roles=(Role.VERIFIER,))
    verifier, now, by = _verifier(access), datetime.now(UTC), _who(access.principal)
    found = await _run(
        access,
        lambda conn: v.record_finding(
            conn, _assignment(conn, code, year).id, verifier, severity=body.severity,
            figure=body.figure, note=body.note, by=by, now=now,
        ),
    )  # fmt: skip
    return vars(found)


@router.post(
    "/enterprises/{code}/verification/statement",
    status_code=201,
    summary="sign off: verified, verified with adjustments (recomputes), not verified",
)
async def statement(
    access: AccessDep,
    code: EnterpriseCode,
    year: YearQuery,
    body: Annotated[NewStatement, Body()],
) -> dict[str, Any]:
    await access.enterprise(code, "verification.conclude", roles=(Role.VERIFIER,))
    verifier, now, by = _verifier(access), datetime.now(UTC), _who(access.principal)
    settings = access.state.settings
    signed = await _run(
        access,
        lambda conn: v.conclude(
            conn, _assignment(conn, code, year).id, verifier, body.conclusion, body.summary,
            by=by, now=now, settings=settings, adjustment=body.adjustment,
        ),
    )  # fmt: skip
    return vars(signed)


@router.post(
    "/verification/statements/{statement_id}/withdraw",
    summary="withdraw a statement (its verifier); revokes the certificates that cite it",
)
async def withdraw(
    access: AccessDep,
    statement_id: Annotated[int, Path(ge=1)],
    body: Annotated[Withdrawal, Body()],
) -> dict[str, int]:
    await access.role("verification.withdraw", Role.VERIFIER)
    verifier, now = _verifier(access), datetime.now(UTC)
    revoked = await _run(
        access, lambda conn: v.withdraw(conn, statement_id, verifier, body.reason, now=now)
    )
    return {"statement": statement_id, "revoked_certificates": revoked}
