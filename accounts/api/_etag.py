"""ETags and conditional requests for account resources.

The ETag of a body is a hash of its bytes. Account bodies are also kept in a small LRU cache
by account (enterprise, period kind, start) with the version stamp of the stored row they were
made from; the audit statement reads the current stamp and skips reading the stored account
again while it is the one held (see ``_audit.py``), so a repeated read costs no query and no
serialisation, and ``If-None-Match`` with the current ETag answers 304 with no body.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass

from fastapi import Request, Response

from accounts.api._audit import Stamp


def etag_of(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


def matches(request: Request, etag: str) -> bool:
    """Whether If-None-Match names this ETag (weak comparison, as RFC 9110 says for GET)."""
    header = request.headers.get("if-none-match")
    if not header:
        return False
    if header.strip() == "*":
        return True
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return etag in tags


def conditional(request: Request, body: bytes, etag: str, media_type: str) -> Response:
    """200 with the body and its ETag, or 304 when the client already has it."""
    headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
    if matches(request, etag):
        return Response(status_code=304, headers=headers)
    return Response(body, headers=headers, media_type=media_type)


@dataclass(frozen=True, slots=True)
class CachedBody:
    stamp: Stamp
    """the version stamp of the stored account the body was made from"""
    body: bytes
    etag: str


class BodyCache:
    """Serialised bodies, their ETags and stamps by account, least recently used dropped first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, CachedBody] = OrderedDict()

    def get(self, account: Hashable) -> CachedBody | None:
        """The body held for the account, whatever its stamp (the caller compares)."""
        item = self._items.get(account)
        if item is not None:
            self._items.move_to_end(account)
        return item

    def put(self, account: Hashable, stamp: Stamp, body: bytes) -> CachedBody:
        item = CachedBody(stamp, body, etag_of(body))
        if self.size:
            self._items[account] = item
            self._items.move_to_end(account)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return item
