"""Canonical JSON and base64url: the exact bytes a signature covers.

Canonical JSON here is ``json.dumps(value, sort_keys=True, separators=(",", ":"),
ensure_ascii=False)`` encoded as UTF-8: object keys sorted by code point, no whitespace, text
as UTF-8 rather than ``\\u`` escapes. Values are strings, integers, booleans, null, lists and
objects only: decimal figures travel as strings ("0.4974"), because a float has no single
spelling. A verifier re-encodes what it parsed and refuses bytes that are not canonical, so
one certificate has exactly one signed form.
"""

from __future__ import annotations

import base64
import json
from typing import Any


class NotCanonicalError(ValueError):
    """The value holds a float (or another type without one spelling) or the bytes differ."""


def canonical(value: Any) -> bytes:
    """The canonical UTF-8 bytes of ``value``; NotCanonicalError for floats and odd types."""
    _check(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _check(value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise NotCanonicalError(f"object key {key!r} is not a string")
            _check(item)
    elif isinstance(value, list):
        for item in value:
            _check(item)
    elif not (value is None or isinstance(value, str | int | bool)):
        raise NotCanonicalError(f"{type(value).__name__} has no canonical form: use a string")


def parse_canonical(data: bytes) -> Any:
    """Parse ``data`` and insist it is the canonical form of what it holds."""
    try:
        value = json.loads(data.decode("utf-8"), parse_float=_no_float)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NotCanonicalError(f"not UTF-8 JSON: {exc}") from exc
    if canonical(value) != data:
        raise NotCanonicalError("not in canonical form (sorted keys, no whitespace, UTF-8)")
    return value


def _no_float(text: str) -> float:
    raise NotCanonicalError(f"number {text} is not an integer: figures travel as strings")


def b64url(data: bytes) -> str:
    """Base64url without padding (RFC 4648 section 5)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    """The bytes of unpadded base64url; ValueError for other characters."""
    if not text or any(c not in _ALPHABET for c in text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
