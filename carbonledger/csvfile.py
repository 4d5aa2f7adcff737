"""Reading CSV import files row by row, with the line each row starts on, and collecting problems.

Files come from spreadsheets: a UTF-8 byte-order mark (Excel's "CSV UTF-8") is accepted, blank
lines and lines starting with ``#`` are skipped, header names are matched without regard to case
or surrounding spaces. Rows are streamed, so a file of any size reads in bounded memory.
"""

from __future__ import annotations

import csv
import string
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from carbonledger.errors import InvalidImportError

PROBLEM_LIMIT = 1000  # problems kept (and printed) per import; the rest are counted


@dataclass(frozen=True, slots=True)
class CsvRow:
    line: int  # 1-based line the row starts on
    values: dict[str, str]  # column -> cell, stripped
    raw: str  # the row's text as in the file (without the line end)
    error: str | None = None  # the row cannot be read as the header's columns (cell count)


class Problems:
    """Every problem of a file as ``file:line: field: problem``, up to :data:`PROBLEM_LIMIT`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.kept: list[str] = []
        self.found: list[tuple[int, str, str]] = []  # (line, field, message), as kept
        self.more = 0
        self._lines: set[int] = set()

    def add(self, line: int, field: str, message: str) -> None:
        self._lines.add(line)
        if len(self.kept) < PROBLEM_LIMIT:
            self.kept.append(f"{self.path}:{line}: {field}: {message}")
            self.found.append((line, field, message))
        else:
            self.more += 1

    @property
    def count(self) -> int:
        return len(self.kept) + self.more

    def readable(self, rows: Iterable[CsvRow]) -> Iterator[tuple[int, dict[str, str]]]:
        """(line, values) of the rows that read as the header's columns; the others are
        problems of their own, so a validator sees only rows it can check field by field."""
        for row in rows:
            if row.error:
                self.add(row.line, "(row)", row.error)
            else:
                yield row.line, row.values

    def raise_if_any(self) -> None:
        if self.kept:
            raise InvalidImportError(str(self.path), self.kept, self.more, len(self._lines))


class _Recorder:
    """Hands lines to :mod:`csv` and remembers them, so a row's text and first line are known."""

    def __init__(self, source: TextIO) -> None:
        self._source = source
        self.number = 0
        self.taken: list[str] = []

    def __iter__(self) -> _Recorder:
        return self

    def __next__(self) -> str:
        text = next(self._source)
        self.number += 1
        self.taken.append(text)
        return text


def read_rows(
    path: Path, columns: Sequence[str], required: Sequence[str], together: Sequence[str] = ()
) -> Iterator[CsvRow]:
    """The data rows of ``path``; file-level faults raise :class:`InvalidImportError` at once.

    The header must name every column of ``required``, all or none of ``together``, and nothing
    outside ``columns``. A row
    with the wrong number of cells is yielded with ``error`` set; the caller reports it.
    """
    try:
        with path.open(encoding="utf-8-sig", newline="") as source:
            recorder = _Recorder(source)
            reader = csv.reader(recorder, strict=True)
            header: list[str] | None = None
            for cells in _records(path, reader, recorder):
                first = recorder.number - len(recorder.taken) + 1
                raw = "".join(recorder.taken).rstrip("\r\n")
                recorder.taken.clear()
                if not any(c.strip() for c in cells) or cells[0].lstrip().startswith("#"):
                    continue
                if header is None:
                    header = _header(
                        path, first, cells, columns=columns, required=required, together=together
                    )
                    continue
                if len(cells) != len(header):
                    error = (
                        f"{len(cells)} cells, but the header has {len(header)}: {','.join(header)}"
                    )
                    yield CsvRow(first, {}, raw, error)
                    continue
                values = {
                    name: cell.strip(string.whitespace)
                    for name, cell in zip(header, cells, strict=True)
                }
                yield CsvRow(first, values, raw)
            if header is None:
                raise InvalidImportError(
                    str(path), [f"{path}: empty; the first line is the header: {','.join(columns)}"]
                )
    except OSError as exc:
        raise InvalidImportError(str(path), [f"{path}: cannot read: {exc.strerror}"]) from exc


def _records(path: Path, reader: Iterator[list[str]], recorder: _Recorder) -> Iterator[list[str]]:
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError:
            raise InvalidImportError(
                str(path),
                [f"{path}:{recorder.number + 1}: not UTF-8 text (save the sheet as CSV UTF-8)"],
            ) from None
        except csv.Error as exc:
            raise InvalidImportError(str(path), [f"{path}:{recorder.number}: {exc}"]) from exc


def _header(
    path: Path,
    line: int,
    cells: list[str],
    *,
    columns: Sequence[str],
    required: Sequence[str],
    together: Sequence[str],
) -> list[str]:
    names = [c.strip().lower() for c in cells]
    problems = [
        f"{path}:{line}: {name or '(empty)'}: unknown column; the columns are {', '.join(columns)}"
        for name in names
        if name not in columns
    ]
    problems += [
        f"{path}:{line}: {name}: required column missing from the header"
        for name in required
        if name not in names
    ]
    if any(name in names for name in together):
        problems += [
            f"{path}:{line}: {name}: column missing: {' and '.join(together)} go together"
            for name in together
            if name not in names
        ]
    repeated = sorted({n for n in names if names.count(n) > 1})
    problems += [f"{path}:{line}: {name}: column appears twice" for name in repeated]
    if problems:
        raise InvalidImportError(str(path), problems)
    return names
