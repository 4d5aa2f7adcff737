"""The per-loan table a bank files for the central bank's carbon emission reduction facility
(碳减排支持工具): each loan that finances a project, with the reduction it brings.

Reduction attributed to a loan = the project's measured reduction of the year x (loan amount /
total project investment), the facility's rule (docs/finance.md §3, marked [verify] there); the
loan amount is the committed principal (committed_yuan), the share capped at 1. Only projects
whose owner has an active consent for the bank are disclosed; the others are counted, not shown.
A live year shows the reduction to date, marked ``complete = false``.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

import psycopg

from accounts.ledger import Factor, Period
from carbonledger.tz import SHANGHAI
from projects._errors import ProjectError
from projects._methods import compute
from projects._read import (
    consented_owners,
    known_bank,
    read_factors,
    read_inputs,
    read_project_loans,
    read_projects,
)
from projects._result import Reductions, dec
from projects._rules import rules

COLUMNS = (
    "bank_id", "loan_id", "as_of", "borrower", "project_id", "owner_code", "project_title", "area",
    "subcategory", "stage", "method", "loan_amount_yuan", "outstanding_yuan",
    "total_investment_yuan", "share", "project_reduction_tco2", "attributed_reduction_tco2",
    "expected_annual_tco2", "year", "complete", "flags", "verification",
)  # fmt: skip


@dataclass(frozen=True)
class LoanLine:
    """One loan of the disclosure, exact."""

    loan: dict[str, Any]
    owner_code: str
    project_title: str
    area: str
    subcategory: str
    stage: str
    method: str
    total_investment: Decimal
    expected_annual: Decimal
    share: Fraction
    project_reduction: Fraction
    complete: bool
    flags: tuple[str, ...]

    @property
    def attributed(self) -> Fraction:
        return self.project_reduction * self.share

    def as_row(self, year: int) -> dict[str, Any]:
        loan = self.loan
        return {
            "bank_id": loan["bank_id"], "loan_id": loan["loan_id"],
            "as_of": loan["as_of"].isoformat(), "borrower": loan["borrower"],
            "project_id": loan["project_id"], "owner_code": self.owner_code,
            "project_title": self.project_title,
            "area": self.area, "subcategory": self.subcategory, "stage": self.stage,
            "method": self.method, "loan_amount_yuan": str(loan["committed_yuan"]),
            "outstanding_yuan": str(loan["outstanding_yuan"]),
            "total_investment_yuan": str(self.total_investment),
            "share": str(dec(self.share)),
            "project_reduction_tco2": str(dec(self.project_reduction)),
            "attributed_reduction_tco2": str(dec(self.attributed)),
            "expected_annual_tco2": str(self.expected_annual), "year": year,
            "complete": self.complete, "flags": " ".join(self.flags),
            "verification": "metered, not yet verified by a third party",
        }  # fmt: skip


@dataclass(frozen=True)
class Disclosure:
    bank_id: str
    year: int
    as_of: datetime
    lines: tuple[LoanLine, ...]
    withheld: int  # loans of projects whose owner has not consented
    unknown_projects: tuple[str, ...]

    @property
    def total(self) -> Fraction:
        return sum((line.attributed for line in self.lines), Fraction(0))

    def as_json(self) -> dict[str, Any]:
        return {
            "bank_id": self.bank_id,
            "year": self.year,
            "as_of": self.as_of.isoformat(),
            "rule": "attributed = project reduction of the year x loan amount / total investment",
            "loans": [line.as_row(self.year) for line in self.lines],
            "total_attributed_tco2": str(dec(self.total)),
            "withheld_without_consent": self.withheld,
            "unknown_projects": list(self.unknown_projects),
        }

    def as_csv(self) -> str:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        for line in self.lines:
            writer.writerow(line.as_row(self.year))
        return out.getvalue()


def _year_reductions(
    conn: psycopg.Connection[Any], project_id: str, year: int, as_of: datetime,
    factors: list[Factor],
) -> Reductions:  # fmt: skip
    project = read_projects(conn, ids=[project_id])[0]
    months = Period.parse(str(year), as_of).months()
    inputs = read_inputs(conn, project, months, as_of, factors)
    return compute(inputs, months, str(year), rules())


def disclosure(
    conn: psycopg.Connection[Any], bank_id: str, year: int, as_of: datetime
) -> Disclosure:
    """The bank's per-loan table for ``year`` (loans as last reported by the year's end)."""
    if not known_bank(conn, bank_id):
        raise ProjectError(f"no bank {bank_id!r} is registered")
    loans = read_project_loans(conn, bank_id, date(year, 12, 31))
    projects = {p.id: p for p in read_projects(conn, ids=sorted({x["project_id"] for x in loans}))}
    consented = consented_owners(conn, bank_id)
    factors = read_factors(conn)
    year_over = as_of.astimezone(SHANGHAI).date() >= date(year + 1, 1, 1)
    cache: dict[str, Reductions] = {}
    lines, withheld, unknown = [], 0, set()
    for loan in loans:
        project = projects.get(loan["project_id"])
        if project is None:
            unknown.add(loan["project_id"])
            continue
        if project.owner_code not in consented:
            withheld += 1
            continue
        if project.id not in cache:
            cache[project.id] = _year_reductions(conn, project.id, year, as_of, factors)
        measured = cache[project.id]
        amount = Fraction(loan["committed_yuan"])
        share = min(Fraction(1), amount / Fraction(project.total_investment_yuan))
        flags = sorted({f.split(":")[0] for m in measured.months for f in m.flags})
        lines.append(
            LoanLine(
                loan=loan, owner_code=project.owner_code, project_title=project.title,
                area=project.area,
                subcategory=project.subcategory, stage=project.stage.value,
                method=project.method.value, total_investment=project.total_investment_yuan,
                expected_annual=project.expected_annual_tco2, share=share,
                project_reduction=measured.total,
                complete=measured.complete and year_over,
                flags=tuple(flags),
            )
        )  # fmt: skip
    return Disclosure(bank_id, year, as_of, tuple(lines), withheld, tuple(sorted(unknown)))
