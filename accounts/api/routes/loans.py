"""Banks' loan books: upload, the book with its financed emissions, one loan's derivation.

A bank key sees only its own bank's loans. A loan to an enterprise without the bank's valid
consent of scope ``account`` is stored, and its figure is "no consent": nothing of the borrower
leaves. Each borrower whose figures do leave is audited like an account read. The enterprise
(and the bureau, admins) may see which banks hold a loan record of it, without amounts.
The work is :mod:`finance`'s (blocking psycopg on the ledger pool, in a thread).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, TypeVar

import orjson
from fastapi import APIRouter, Body, Query, Response
from pydantic import BaseModel, Field

from accounts.api._common import EnterpriseCode
from accounts.api._keys import OVERSIGHT, Role
from accounts.api._pagination import CursorQuery, LimitQuery, Page, after_key, page
from accounts.api._problems import Problem
from accounts.api.deps import Access, AccessDep, DbAccessDep
from accounts.api.queries import loans as loan_queries
from carbonledger.csvfile import Problems
from finance import (
    LOAN_COLUMNS,
    Book,
    FinanceError,
    LoanFigure,
    LoanStatus,
    Trend,
    apply_loans,
    explain_loan,
    financed_book,
    trend,
    validate_loans,
)

router = APIRouter(tags=["loans"])
T = TypeVar("T")
_JSON = "application/json"
YearQuery = Annotated[
    int | None, Query(ge=2000, le=2100, description="accounting year (default: the as-of year)")
]
AsOfQuery = Annotated[
    date | None, Query(description="the book's as-of date (default: the newest in the year)")
]


class LoanIn(BaseModel):
    """One loan as the bank reports it; the rules are finance's, the same as for a CSV."""

    loan_id: str = Field(max_length=64, examples=["LS-2025-000123"])
    borrower_credit_code: str = Field(max_length=18)
    product: str = Field(max_length=100, examples=["碳效贷"])
    green_category: str | None = Field(None, max_length=100, examples=["节能环保"])
    purpose: str = Field("", max_length=200)
    outstanding_yuan: Decimal
    committed_yuan: Decimal
    currency: str = Field("CNY", max_length=3)
    start_date: date
    maturity_date: date
    interest_rate: Decimal = Field(description="percent a year, e.g. 3.45")
    as_of: date
    project_id: str | None = Field(None, max_length=64)

    def row(self) -> dict[str, str]:
        values = self.model_dump(exclude_none=True)
        return {c: "" for c in LOAN_COLUMNS} | {k: str(v) for k, v in values.items()}


class LoanUpload(BaseModel):
    loans: list[LoanIn] = Field(min_length=1, max_length=10_000)


class UploadReport(BaseModel):
    added: int
    updated: int
    unchanged: int


class LoanRow(LoanIn):
    source: str


class Lender(BaseModel):
    bank_id: str
    bank_name: str
    first_as_of: date
    last_as_of: date
    loans: int


def bank_of(access: Access) -> str:
    bank = access.principal.bank_id
    assert bank is not None  # noqa: S101 - a bank key carries its bank (CHECK constraint)
    return bank


async def run_finance(access: Access, call: Callable[[Any], T]) -> T:
    def run() -> T:
        with access.state.ledger_pool.connection() as conn:
            return call(conn)

    try:
        return await asyncio.to_thread(run)
    except FinanceError as exc:
        raise Problem(404, str(exc)) from exc


async def audit_figures(access: Access, action: str, figures: list[LoanFigure]) -> None:
    """One audit entry per borrower whose figures leave (the consented ones)."""
    hidden = (LoanStatus.NO_CONSENT, LoanStatus.NOT_ON_PLATFORM)
    shown = sorted({f.borrower_credit_code for f in figures if f.status not in hidden})
    await asyncio.gather(*(access.audit(action, code, "granted") for code in shown))


@router.post("/loans", response_model=UploadReport, summary="upload loans of the key's bank")
async def upload_loans(access: DbAccessDep, body: Annotated[LoanUpload, Body()]) -> UploadReport:
    """Validated as a whole: one bad loan refuses the upload (422, every bad field named by
    ``loans.<index>.<field>``) and nothing is written. Re-sending a loan (bank, loan id, as-of
    date) with the same values changes nothing; with other values, replaces it."""
    await access.role("loans.write", Role.BANK)
    bank = bank_of(access)
    codes = [loan.borrower_credit_code for loan in body.loans]
    known = await loan_queries.registered(access.conn, codes)
    problems = Problems(Path("loans"))
    rows = [(i, loan.row()) for i, loan in enumerate(body.loans)]
    records = validate_loans(rows, problems, registered=known)
    if problems.found:
        errors = [
            {"location": f"loans.{line}.{field}", "message": message}
            for line, field, message in problems.found
        ]
        detail = "; ".join(f"{e['location']}: {e['message']}" for e in errors[:20])
        raise Problem(422, detail, errors=errors)
    report = await run_finance(access, lambda conn: apply_loans(conn, bank, records, source="api"))
    return UploadReport(
        added=report.count("loan", "added"),
        updated=report.count("loan", "updated"),
        unchanged=report.count("loan", "unchanged"),
    )


@router.get("/loans", response_model=Page[LoanRow], summary="the key's bank's loans as reported")
async def list_loans(
    access: DbAccessDep,
    as_of: AsOfQuery = None,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> Page[LoanRow]:
    await access.role("loans.read", Role.BANK)
    bank = bank_of(access)
    day = as_of or await loan_queries.newest_as_of(access.conn, bank)
    if day is None:
        return Page[LoanRow](items=[], next_cursor=None)
    rows = await loan_queries.loans_of(
        access.conn, bank, day, after=after_key(cursor), limit=limit + 1
    )
    items = [LoanRow.model_validate(r) for r in rows]
    return page(items, limit, lambda loan: (loan.loan_id,))


@router.get(
    "/loans/book",
    response_model=Book,
    summary="the book's financed emissions: every loan, the metrics, the watchlist",
)
async def book(access: AccessDep, year: YearQuery = None, as_of: AsOfQuery = None) -> Response:
    await access.role("loans.book.read", Role.BANK)
    bank = bank_of(access)
    result = await run_finance(
        access, lambda conn: financed_book(conn, bank, year=year, as_of=as_of)
    )
    await audit_figures(access, "loans.book.read", result.loans)
    return Response(orjson.dumps(result.model_dump(mode="json")), media_type=_JSON)


@router.get(
    "/loans/explain",
    response_model=LoanFigure,
    summary="one loan's derivation: loan -> attribution -> account version -> emissions",
)
async def explain(
    access: AccessDep,
    loan_id: Annotated[str, Query(max_length=64)],
    year: YearQuery = None,
    as_of: AsOfQuery = None,
) -> LoanFigure:
    await access.role("loans.explain", Role.BANK)
    bank = bank_of(access)
    result = await run_finance(
        access,
        lambda conn: explain_loan(financed_book(conn, bank, year=year, as_of=as_of), loan_id),
    )
    await audit_figures(access, "loans.explain", [result])
    return result


@router.get(
    "/loans/trend",
    response_model=list[Trend],
    summary="the book month over month (the newest as-of date of each month)",
)
async def book_trend(access: AccessDep) -> list[Trend]:
    await access.role("loans.trend.read", Role.BANK)
    bank = bank_of(access)
    return await run_finance(access, lambda conn: trend(conn, bank))


@router.get(
    "/enterprises/{code}/lenders",
    response_model=list[Lender],
    summary="the banks holding a loan record of the enterprise (no amounts)",
)
async def lenders(access: DbAccessDep, code: EnterpriseCode) -> list[Lender]:
    await access.enterprise(code, "lenders.read", roles=OVERSIGHT)
    rows = await loan_queries.lenders(access.conn, code)
    return [Lender.model_validate(r) for r in rows]
