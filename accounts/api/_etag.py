"""ETags and conditional requests for account resources.

The ETag of a body is a hash of its bytes. Account bodies are also kept in a small LRU cache
keyed by the version stamp of their stored row (read with the access decision, see
``_audit.py``), so a repeated read costs no query and no serialisation, and ``If-None-Match``
with the current ETag answers 304 with no body.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Hashable

from fastapi import Request, Response


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


class BodyCache:
    """Serialised bodies and their ETags by version stamp, least recently used dropped first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, tuple[bytes, str]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, stamp: Hashable) -> tuple[bytes, str] | None:
        item = self._items.get(stamp)
        if item is None:
            self.misses += 1
            return None
        self._items.move_to_end(stamp)
        self.hits += 1
        return item

    def put(self, stamp: Hashable, body: bytes) -> tuple[bytes, str]:
        item = (body, etag_of(body))
        if self.size:
            self._items[stamp] = item
            self._items.move_to_end(stamp)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return item
