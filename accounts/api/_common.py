"""Path and query types shared by the routes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Path

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
