"""Reading a registry file (TOML) into records, each with the line it was written on.

The file holds four arrays of tables, ``[[enterprise]]``, ``[[site]]``, ``[[gateway]]`` and
``[[meter]]`` (docs/imports.md). Every record is validated on its own here; every fault is kept
(not just the first) as ``file:line: [[kind]] id: field: problem``, the line being that of the
offending key, or of the record's header when the key is missing.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from carbonledger.errors import ConfigError, InvalidImportError
from carbonledger.tomlfile import line_of, read_toml

from ._records import EnterpriseRecord, GatewayRecord, MeterRecord, SiteRecord

R = TypeVar("R", bound=BaseModel)
_AT_LINE = re.compile(
    r"(?P<path>.*?): (?P<text>.*) \(at line (?P<line>\d+), column (?P<column>\d+)\)"
)

KINDS: dict[str, type[BaseModel]] = {
    "enterprise": EnterpriseRecord,
    "site": SiteRecord,
    "gateway": GatewayRecord,
    "meter": MeterRecord,
}


@dataclass(frozen=True)
class Entry(Generic[R]):
    """A validated record and where it is in the file."""

    kind: str
    index: int  # 0-based position among the file's [[kind]] tables
    record: R
    line: int


@dataclass
class RegistryFile:
    """A registry file's records, and the problems found so far (empty: all valid)."""

    path: Path
    text: str
    enterprises: list[Entry[EnterpriseRecord]] = field(default_factory=list)
    sites: list[Entry[SiteRecord]] = field(default_factory=list)
    gateways: list[Entry[GatewayRecord]] = field(default_factory=list)
    meters: list[Entry[MeterRecord]] = field(default_factory=list)
    problems: list[tuple[int, str]] = field(default_factory=list)  # (line, message)
    # ids and codes of records that failed validation: others may refer to them without a
    # second, misleading "no such record" problem
    invalid: dict[str, set[str]] = field(default_factory=lambda: {k: set() for k in KINDS})

    def problem(self, line: int | None, kind: str, label: str, key: str, message: str) -> None:
        where = f"{self.path}:{line}" if line else str(self.path)
        self.problems.append((line or 0, f"{where}: [[{kind}]] {label}: {key}: {message}"))

    def line(self, kind: str, index: int, key: str | None = None) -> int | None:
        return line_of(self.text, [kind, str(index), *([key] if key else [])])

    def raise_problems(self) -> None:
        if self.problems:
            ordered = [message for _, message in sorted(self.problems, key=lambda p: p[0])]
            raise InvalidImportError(str(self.path), ordered)

    def records(self) -> int:
        return len(self.enterprises) + len(self.sites) + len(self.gateways) + len(self.meters)


def read_registry_file(path: Path) -> RegistryFile:
    """Parse and validate every record of ``path``; problems are collected, not raised."""
    try:
        text, doc = read_toml(path, parse_float=Decimal)
    except ConfigError as exc:  # unreadable or not TOML: one problem, nothing else to check
        # tomllib says "... (at line 2, column 10)": put the line where every message has it
        message = _AT_LINE.sub(r"\g<path>:\g<line>: \g<text> (column \g<column>)", str(exc))
        raise InvalidImportError(str(path), [message]) from exc
    return parse_registry(doc, path, text)


def parse_registry(doc: Mapping[str, Any], path: Path, text: str = "") -> RegistryFile:
    """Validate every record of a registry document; problems are collected, not raised.

    ``doc`` has the file's shape (``{"enterprise": [{...}], "meter": [...]}``): the tables of a
    TOML file (``text`` gives their lines), or records a program builds (the simulator's city),
    so both pass the same rules. ``path`` names the source in every problem.
    """
    parsed = RegistryFile(path, text)
    for name, value in doc.items():
        if name not in KINDS:
            line = line_of(text, [name]) or line_of(text, [name, "0"])
            where = f"{path}:{line}" if line else str(path)
            parsed.problems.append(
                (
                    line or 0,
                    f"{where}: {name}: unknown table; a registry file has [[enterprise]],"
                    " [[site]], [[gateway]] and [[meter]] tables",
                )
            )
        elif not isinstance(value, list):
            line = line_of(text, [name])
            where = f"{path}:{line}" if line else str(path)
            parsed.problems.append(
                (line or 0, f"{where}: {name}: write [[{name}]] (double brackets), one per record")
            )
    parsed.enterprises = _entries(parsed, doc, "enterprise", EnterpriseRecord)
    parsed.sites = _entries(parsed, doc, "site", SiteRecord)
    parsed.gateways = _entries(parsed, doc, "gateway", GatewayRecord)
    parsed.meters = _entries(parsed, doc, "meter", MeterRecord)
    for entry in parsed.meters:
        for key, message in entry.record.problems().items():
            label = entry.record.id
            parsed.problem(parsed.line("meter", entry.index, key), "meter", label, key, message)
    if not parsed.records() and not parsed.problems:
        parsed.problems.append((0, f"{path}: the file has no [[enterprise]], [[meter]]... tables"))
    return parsed


def _entries(
    parsed: RegistryFile, doc: Mapping[str, Any], kind: str, model: type[R]
) -> list[Entry[R]]:
    tables = doc.get(kind)
    if not isinstance(tables, list):
        return []
    entries: list[Entry[R]] = []
    for index, table in enumerate(tables):
        header = parsed.line(kind, index) or 0
        label = _label(kind, index, table)
        if not isinstance(table, dict):
            parsed.problem(header, kind, label, "(table)", "expected a table of key = value")
            continue
        try:
            record = model.model_validate(table)
        except ValidationError as exc:
            for key, message in _messages(exc):
                line = parsed.line(kind, index, key) or header
                parsed.problem(line, kind, label, key, message)
            parsed.invalid[kind].add(label)
            continue
        entries.append(Entry(kind, index, record, header))
    return entries


def _label(kind: str, index: int, table: object) -> str:
    """How a record is named in messages: its id or code as written, else its position."""
    key = "code" if kind == "enterprise" else "id"
    if isinstance(table, dict) and isinstance(table.get(key), str):
        written = str(table[key]).strip(string.whitespace)
        if written:
            return written
    return f"#{index + 1}"


def _messages(exc: ValidationError) -> Sequence[tuple[str, str]]:
    out = []
    for error in exc.errors():
        key = str(error["loc"][0]) if error["loc"] else "(table)"
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "missing":
            message = "missing (required)"
        elif error["type"] == "extra_forbidden":
            message = "unknown key (misspelt?)"
        elif error["type"] == "literal_error":
            message = f"{error['input']!r} is not one of {message.removeprefix('Input should be ')}"
        out.append((key, message))
    return out
