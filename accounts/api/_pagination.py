"""Cursor pagination: a list answers ``items`` and ``next_cursor``; pass the cursor back to get
the page after. Cursors are opaque to clients (base64url of the last row's sort key); a
malformed one is a 422 problem.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, Generic, TypeVar

import orjson
from fastapi import Query
from pydantic import BaseModel

from accounts.api._problems import Problem

T = TypeVar("T")

LimitQuery = Annotated[int, Query(ge=1, le=1_000, description="items per page")]
CursorQuery = Annotated[
    str | None, Query(max_length=512, description="next_cursor of the previous page")
]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None


def encode_cursor(*values: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(values))).decode().rstrip("=")


def decode_cursor(cursor: str | None, *types: type) -> list[Any] | None:
    """The sort key a cursor carries, each value checked against ``types``."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = orjson.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise Problem(422, "cursor: not a cursor this API gave") from exc
    if (
        not isinstance(values, list)
        or len(values) != len(types)
        or not all(
            isinstance(v, t) and not isinstance(v, bool) for v, t in zip(values, types, strict=True)
        )
    ):
        raise Problem(422, "cursor: not a cursor this API gave")
    return values


def after_key(cursor: str | None) -> str:
    """The one string sort key a cursor carries, or "" (before every key) for the first page."""
    after = decode_cursor(cursor, str)
    return after[0] if after else ""


def page(items: list[T], limit: int, key: Any) -> Page[T]:
    """A page from up to limit + 1 fetched items (the extra one says there is a next page)."""
    if len(items) <= limit:
        return Page[T](items=items, next_cursor=None)
    items = items[:limit]
    return Page[T](items=items, next_cursor=encode_cursor(*key(items[-1])))
