"""The factor library: TOML data files (``accounts/ledger/factors/*.toml``) validated and loaded
into the ``factors`` table.

Every value carries its source, document, data year, publication date, region, scope and
validity. A file that breaks the schema is reported as ``file:line: factor.N.key: problem``.
Loading is idempotent; an entry whose (id, version) is already loaded with other content is
refused (a correction is a new version), so a published factor never changes under an account.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction
from importlib import resources
from pathlib import Path
from typing import Literal

import psycopg
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from accounts.ledger._units import TCE_PER_UNIT, fuel_tco2_per_ncv_unit
from carbonledger.errors import ConfigError
from carbonledger.tomlfile import describe, line_of, read_toml

_UNITS = {
    "grid": {"tCO2/MWh"},
    "fuel": {"tCO2/t", "tCO2/10^4Nm3"},
    "heat": {"tCO2/GJ"},
    "steam": {"kJ/kg"},
    "tce": set(TCE_PER_UNIT),
}


class FactorEntry(BaseModel):
    """One ``[[factor]]`` of a data file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    version: int = Field(ge=1)
    kind: Literal["grid", "fuel", "heat", "steam", "tce"]
    subject: str = Field(min_length=1)
    series: str = Field(min_length=1)
    value: Decimal = Field(gt=0)
    unit: str
    ncv: Decimal | None = Field(None, gt=0)
    ncv_unit: Literal["GJ/t", "GJ/10^4Nm3"] | None = None
    carbon_content: Decimal | None = Field(None, gt=0)
    oxidation: Decimal | None = Field(None, gt=0, le=1)
    guideline: str | None = None
    standard: str | None = None
    source: str = Field(min_length=1)
    document: str = Field(min_length=1)
    data_year: int | None = Field(None, ge=1990, le=2100)
    published: date
    region: str = Field(min_length=1)
    scope: Literal["scope1", "scope2", "energy"]
    valid_from: date
    valid_to: date | None = None
    verify: bool = False
    note: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> FactorEntry:
        if self.unit not in _UNITS[self.kind]:
            raise ValueError(f"unit {self.unit!r} is not one of {sorted(_UNITS[self.kind])}")
        fuel_fields = (self.ncv, self.ncv_unit, self.carbon_content, self.oxidation)
        if self.kind == "fuel" and (None in fuel_fields or self.guideline is None):
            raise ValueError("a fuel needs ncv, ncv_unit, carbon_content, oxidation and guideline")
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise ValueError("valid_to is before valid_from")
        return self

    @property
    def derived(self) -> Fraction:
        """Fuels: tCO2 per NCV-unit quantity, exactly NCV x CC x OF x 44/12 (CC in tC/TJ)."""
        assert self.ncv is not None and self.carbon_content is not None  # noqa: S101
        assert self.oxidation is not None  # noqa: S101 - checked by _consistent for fuels
        return fuel_tco2_per_ncv_unit(self.ncv, self.carbon_content, self.oxidation)


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")
    factor: list[FactorEntry]


@dataclass(frozen=True)
class LoadedEntry:
    entry: FactorEntry
    where: str  # file:line


def packaged_files() -> list[Path]:
    folder = resources.files("accounts.ledger") / "factors"
    return sorted(Path(str(folder / e.name)) for e in folder.iterdir() if e.name.endswith(".toml"))


def read_library(extra: Sequence[Path] = ()) -> list[LoadedEntry]:
    """Every entry of the packaged files and ``extra``, validated; ConfigError on the first bad
    file, naming file:line:key for each problem in it."""
    entries: list[LoadedEntry] = []
    seen: dict[tuple[str, int], str] = {}
    for path in [*packaged_files(), *extra]:
        for loaded in _read_file(path):
            key = (loaded.entry.id, loaded.entry.version)
            if key in seen:
                raise ConfigError(
                    f"{loaded.where}: factor {key[0]} version {key[1]} is already defined at"
                    f" {seen[key]}"
                )
            seen[key] = loaded.where
            entries.append(loaded)
    return entries


def _read_file(path: Path) -> list[LoadedEntry]:
    text, values = read_toml(path, parse_float=Decimal)
    try:
        parsed = _File.model_validate(values)
    except ValidationError as exc:
        raise ConfigError(describe(exc, path, text, "invalid factor file")) from exc
    out = []
    for index, entry in enumerate(parsed.factor):
        loc = ["factor", str(index)]
        where = f"{path}:{line_of(text, [*loc, 'id'])}"
        if entry.kind == "fuel":
            _check_derived(entry, path, text, loc)
        out.append(LoadedEntry(entry, where))
    return out


def _check_derived(entry: FactorEntry, path: Path, text: str, loc: list[str]) -> None:
    """The table's rounded value may differ from the exact product by one unit of its last place."""
    exponent = entry.value.as_tuple().exponent
    assert isinstance(exponent, int)  # noqa: S101 - a finite Decimal
    ulp = Fraction(10) ** exponent
    if abs(entry.derived - Fraction(entry.value)) > ulp:
        computed = Decimal(entry.derived.numerator) / Decimal(entry.derived.denominator)
        line = line_of(text, [*loc, "value"])
        raise ConfigError(
            f"{path}:{line}: {'.'.join([*loc, 'value'])}: {entry.value} {entry.unit} disagrees with"
            f" ncv x carbon_content x oxidation x 44/12 = {computed:.6f}"
        )


_COLUMNS = (
    "id",
    "version",
    "kind",
    "subject",
    "series",
    "value",
    "unit",
    "ncv",
    "ncv_unit",
    "carbon_content",
    "oxidation",
    "guideline",
    "standard",
    "source",
    "document",
    "data_year",
    "published",
    "region",
    "scope",
    "valid_from",
    "valid_to",
    "verify",
    "note",
)


@dataclass(frozen=True)
class LoadReport:
    added: int
    unchanged: int


def load_factors(conn: psycopg.Connection, extra: Sequence[Path] = ()) -> LoadReport:
    """Insert the library's entries that are missing, in one transaction; idempotent.

    Raises ConfigError when a loaded (id, version) has different content in the files.
    """
    entries = read_library(extra)
    added = 0
    with conn.transaction():
        existing = {
            (row[0], row[1]): row
            for row in conn.execute(f"SELECT {', '.join(_COLUMNS)} FROM factors").fetchall()
        }
        for loaded in entries:
            values = _row(loaded.entry)
            old = existing.get((loaded.entry.id, loaded.entry.version))
            if old is None:
                placeholders = ", ".join(["%s"] * (len(_COLUMNS) + 1))
                conn.execute(
                    f"INSERT INTO factors ({', '.join(_COLUMNS)}, data_file)"
                    f" VALUES ({placeholders})",
                    (*values, loaded.where),
                )
                added += 1
            elif tuple(old) != values:
                raise ConfigError(
                    f"{loaded.where}: factor {loaded.entry.id} version {loaded.entry.version}"
                    " differs from the one already loaded; a correction needs a new version"
                )
    return LoadReport(added, len(entries) - added)


def _row(entry: FactorEntry) -> tuple[object, ...]:
    return tuple(getattr(entry, name) for name in _COLUMNS)
