"""The disclosure a bank files (JR/T 0227-2021, financed emissions) and the city's totals.

A bank key gets its own bank's section, as JSON, CSV or the printable HTML page, computed from
its book as it may see it (consent applies, as for ``/v1/loans/book``). The bureau and admins
get the city-wide totals over every bank's book.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Response

from accounts.api._keys import Role
from accounts.api.deps import DbAccessDep
from accounts.api.queries import loans as loan_queries
from accounts.api.routes.loans import AsOfQuery, audit_figures, bank_of, run_finance
from finance import (
    CityTotals,
    city_totals,
    disclosure,
    disclosure_csv,
    disclosure_html,
    financed_book,
)

router = APIRouter(tags=["loans"])


class ReportFormat(StrEnum):
    JSON = "json"
    CSV = "csv"
    HTML = "html"


_MEDIA = {
    ReportFormat.JSON: "application/json",
    ReportFormat.CSV: "text/csv; charset=utf-8",
    ReportFormat.HTML: "text/html; charset=utf-8",
}


@router.get(
    "/loans/report",
    summary="the bank's financed-emissions disclosure (JR/T 0227-2021) as JSON, CSV or HTML",
    response_model=dict[str, Any],
)
async def report(
    access: DbAccessDep,
    year: Annotated[int, Query(ge=2000, le=2100, description="reporting year")],
    format: ReportFormat = ReportFormat.JSON,
    as_of: AsOfQuery = None,
) -> Response:
    await access.role("loans.report.read", Role.BANK)
    bank = bank_of(access)
    name = await loan_queries.bank_name(access.conn, bank)
    book = await run_finance(access, lambda conn: financed_book(conn, bank, year=year, as_of=as_of))
    await audit_figures(access, "loans.report.read", book.loans)
    section = disclosure(book, name)
    if format is ReportFormat.CSV:
        body = disclosure_csv(section).encode()
    elif format is ReportFormat.HTML:
        body = disclosure_html(section).encode()
    else:
        body = orjson.dumps(section)
    return Response(body, media_type=_MEDIA[format])


@router.get(
    "/bureau/finance",
    response_model=CityTotals,
    summary="city-wide: green loan balance by product, financed emissions, exposure by grade",
)
async def city(access: DbAccessDep, year: Annotated[int, Query(ge=2000, le=2100)]) -> CityTotals:
    await access.role("bureau.finance.read", Role.BUREAU, Role.ADMIN)
    return await run_finance(access, lambda conn: city_totals(conn, year))
