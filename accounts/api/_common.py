"""Path and query types shared by the routes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Path

CODE_PATTERN = r"^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$"  # 3-8: GB/T 2260 division

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
