"""Path and query types shared by the routes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Path

from accounts.api._problems import Problem
from accounts.ledger import Period
from carbonledger.wire import CREDIT_CODE_PATTERN

CODE_PATTERN = f"^{CREDIT_CODE_PATTERN}$"

EnterpriseCode = Annotated[
    str,
    Path(
        pattern=CODE_PATTERN,
        description="unified social credit code (18 characters)",
        examples=["91331102MA2A00001X"],
    ),
]


def utcnow() -> datetime:
    return datetime.now(UTC)


def period_query(text: str) -> Period:
    """A ``period`` query parameter: a bad one is a 422 problem with the reason."""
    try:
        return Period.parse(text)
    except ValueError as exc:
        raise Problem(422, f"period: {exc}") from exc
