"""Reading what people hand in: a declaration (TOML) and driver values (CSV), each problem
reported as ``file:line: what`` before anything is written."""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from pydantic import ValidationError

from carbonledger.errors import ConfigError
from carbonledger.tomlfile import describe, read_toml
from projects._model import Declaration
from projects.library import DriverValue


def read_declaration(path: Path) -> Declaration:
    """The declaration in ``path``; ConfigError listing every invalid key with its line."""
    text, data = read_toml(path, parse_float=Decimal)
    try:
        return Declaration.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe(exc, path, text, f"{path}: invalid declaration")) from exc


def read_drivers(path: Path) -> list[DriverValue]:
    """``month,value,source`` rows (month ``YYYY-MM``); ConfigError naming each bad line."""
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    out, problems, seen = [], [], set()
    for line, row in enumerate(rows, start=2):
        try:
            month = date.fromisoformat(f"{row.get('month', '').strip()}-01")
            value = Decimal(row.get("value", "").strip())
            source = (row.get("source") or "").strip()
            if not source:
                raise ValueError("source is empty")
            if not value.is_finite():
                raise ValueError("value is not a number")
            if month in seen:
                raise ValueError(f"month {month:%Y-%m} appears twice")
        except (ValueError, InvalidOperation) as exc:
            problems.append(f"{path}:{line}: {exc or 'invalid row'}")
            continue
        seen.add(month)
        out.append(DriverValue(month, value, source))
    if problems or not out:
        raise ConfigError("\n".join(problems) or f"{path}: no rows (header month,value,source)")
    return out
