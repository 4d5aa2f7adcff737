"""Reading TOML settings files and reporting validation errors as ``file:line: key: problem``.

Shared by the platform's settings (:mod:`carbonledger.config`) and the gateway agent's config
(:mod:`edge.agent`), so a person fixing either file is told the same way where to look.
Standard library and pydantic only: the edge imports it.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from carbonledger.errors import ConfigError

_HEADER = re.compile(r"(\[\[?)\s*([^\]]+?)\s*\]\]?")
_KEY = re.compile(r"([A-Za-z0-9_\-\"]+)\s*=")


def read_toml(path: Path, parse_float: Callable[[str], Any] = float) -> tuple[str, dict[str, Any]]:
    """The file's text and its parsed values; a ConfigError naming the file when either fails.

    ``parse_float=decimal.Decimal`` keeps numbers such as 0.1 exact (registry imports).
    """
    try:
        text = path.read_text(encoding="utf-8")
        return text, tomllib.loads(text, parse_float=parse_float)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def describe(
    exc: ValidationError,
    path: Path | None,
    text: str,
    heading: str,
    locate: Callable[[list[str]], list[str]] = lambda loc: loc,
) -> str:
    """One ``file:line: key: problem`` line per error under ``heading``.

    ``locate`` maps pydantic's error location to the key path as written in the file (aliases,
    union tags that have no table of their own).
    """
    lines = []
    for error in exc.errors():
        loc = locate([str(p) for p in error["loc"]])
        key = ".".join(loc) or "(file)"
        line = line_of(text, loc) if text else None
        where = f"{path}:{line}: " if line else (f"{path}: " if path else "")
        lines.append(f"{where}{key}: {str(error['msg']).removeprefix('Value error, ')}")
    return f"{heading}:\n  " + "\n  ".join(lines)


def line_of(text: str, loc: list[str]) -> int | None:
    """The 1-based line of ``loc`` (``["devices", "1", "port"]``) in TOML ``text``.

    Arrays of tables count (``devices.1`` is the second ``[[devices]]``). When the key itself is
    absent (a missing field) the line of its table's header is given, so the reader still lands
    in the right place.
    """
    if not loc:
        return None
    table, current = _table_path(loc), []
    counts: dict[str, int] = {}
    table_line: int | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        header = _HEADER.fullmatch(line)
        if header:
            names = [n.strip().strip('"') for n in header.group(2).split(".")]
            current = _header_path(names, header.group(1) == "[[", counts)
            if current == loc:  # the error is about a whole table
                return number
            if current == table:
                table_line = number
            continue
        key = _KEY.match(line)
        if key and current == table and key.group(1).strip('"') == loc[len(table)]:
            return number
    return table_line


def _table_path(loc: list[str]) -> list[str]:
    """The table holding the last key of ``loc``: ``devices.1.port`` → ``devices.1``."""
    if len(loc) >= 2 and loc[-1].isdigit():  # an item of an inline array: report its key
        loc = loc[:-1]
    return loc[:-1]


def _header_path(names: list[str], is_array: bool, counts: dict[str, int]) -> list[str]:
    """The path of a table header, with the index of the array-of-tables item it opens.

    ``[devices.options]`` after the second ``[[devices]]`` belongs to ``devices.1.options``.
    """
    if is_array:
        key = ".".join(names)
        counts[key] = counts.get(key, -1) + 1
        return [*names, str(counts[key])]
    if names[0] in counts and len(names) > 1:
        return [names[0], str(counts[names[0]]), *names[1:]]
    return names
