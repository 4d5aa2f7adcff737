"""Applying a validated registry file in one transaction, and saying what changed.

The rules that need more than one record are checked here, against the file and the database
together, inside the transaction that then writes: a record may refer to an enterprise, site or
gateway of the same file or one already registered, and the gateway and site of a meter must
belong to the meter's enterprise. Nothing moves between enterprises (readings, rollups and
accounts are keyed by the enterprise): that is refused with the reason.

An import adds and updates, never deletes. An optional key that a record leaves out keeps its
stored value, so a file listing only some attributes does not wipe the others; re-importing the
same file changes nothing and says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from carbonledger.tz import SHANGHAI

from ._registry_file import Entry, RegistryFile, read_registry_file

# Table, key column, and the file's key -> column for each kind (in write order).
_TABLES: dict[str, tuple[str, str, dict[str, str]]] = {
    "enterprise": (
        "enterprises",
        "code",
        {
            "code": "code",
            "name": "name",
            "industry_code": "industry_code",
            "district": "district",
            "size_class": "size_class",
        },
    ),
    "site": (
        "sites",
        "id",
        {"id": "id", "enterprise": "enterprise_code", "name": "name", "address": "address"},
    ),
    "gateway": ("gateways", "id", {"id": "id", "enterprise": "enterprise_code"}),
    "meter": (
        "meters",
        "id",
        {
            "id": "id",
            "enterprise": "enterprise_code",
            "gateway": "gateway_id",
            "site": "site_id",
            "carrier": "carrier",
            "quantity": "quantity",
            "unit": "unit",
            "multiplier": "multiplier",
            "register_max": "register_max",
            "max_rate": "max_rate",
            "role": "role",
            "source": "source",
        },
    ),
}
# Columns of type numeric (the others are text or char).
_NUMERIC = frozenset({"multiplier", "register_max", "max_rate"})
# Meter attributes the rollups were computed with: changing one leaves past rollups stale.
_BOOKING = ("quantity", "multiplier", "register_max", "max_rate")


@dataclass(frozen=True)
class Change:
    """One record of an import: added, updated (each field's old and new value), unchanged."""

    kind: str
    key: str
    action: str  # added | updated | unchanged
    fields: tuple[tuple[str, object, object], ...] = ()
    note: str = ""

    def __str__(self) -> str:
        text = f"{self.action} {self.kind} {self.key}"
        if self.fields:
            text += ": " + "; ".join(
                f"{f} {show_value(old)} -> {show_value(new)}" for f, old, new in self.fields
            )
        return text + (f" ({self.note})" if self.note else "")


@dataclass(frozen=True)
class ImportReport:
    """What an import did (or, in a dry run, would do), record by record."""

    path: str
    changes: tuple[Change, ...] = field(default_factory=tuple)
    dry_run: bool = False

    def count(self, kind: str, action: str) -> int:
        return sum(1 for c in self.changes if c.kind == kind and c.action == action)

    def summary(self) -> str:
        parts = []
        for kind in dict.fromkeys(c.kind for c in self.changes):
            total = sum(1 for c in self.changes if c.kind == kind)
            added, updated = self.count(kind, "added"), self.count(kind, "updated")
            plural = "s" if total != 1 else ""
            parts.append(
                f"{total} {kind}{plural} ({added} added, {updated} updated,"
                f" {total - added - updated} unchanged)"
            )
        verb = "would import" if self.dry_run else "imported"
        return f"{self.path}: {verb} " + (", ".join(parts) or "nothing")


def import_registry(conn: psycopg.Connection, path: Path, *, dry_run: bool = False) -> ImportReport:
    """Read, validate and apply the registry file ``path`` (see :func:`apply_registry`)."""
    return apply_registry(conn, read_registry_file(path), dry_run=dry_run)


def apply_registry(
    conn: psycopg.Connection, parsed: RegistryFile, *, dry_run: bool = False
) -> ImportReport:
    """Check the cross-record rules and write the file, all in one transaction.

    Raises :class:`~carbonledger.errors.InvalidImportError` listing every problem (the
    transaction is rolled back: nothing changes); ``dry_run`` rolls back after computing the
    report.
    """
    with conn.transaction(force_rollback=dry_run):
        stored = {kind: _stored(conn, kind, parsed) for kind in _TABLES}
        enterprises = set(stored["enterprise"]) | _referenced_enterprises(conn, parsed)
        _check(parsed, stored, enterprises | parsed.invalid["enterprise"])
        parsed.raise_problems()
        changes: list[Change] = []
        for kind, entries in _by_kind(parsed):
            changes.extend(_write(conn, kind, entries, stored[kind]))
    return ImportReport(str(parsed.path), tuple(changes), dry_run)


def _by_kind(parsed: RegistryFile) -> Iterable[tuple[str, Sequence[Entry[Any]]]]:
    yield "enterprise", parsed.enterprises
    yield "site", parsed.sites
    yield "gateway", parsed.gateways
    yield "meter", parsed.meters


def _stored(conn: psycopg.Connection, kind: str, parsed: RegistryFile) -> dict[str, dict[str, Any]]:
    """The stored rows of this kind that the file names (as file keys), locked for the update."""
    table, key, columns = _TABLES[kind]
    keys = [_key(e) for k, entries in _by_kind(parsed) if k == kind for e in entries]
    if kind == "gateway":
        keys += [e.record.gateway for e in parsed.meters]
    elif kind == "site":
        keys += [e.record.site for e in parsed.meters if e.record.site]
    if not keys:
        return {}
    query = sql.SQL("SELECT {cols} FROM {table} WHERE {key} = ANY(%s) FOR UPDATE").format(
        cols=sql.SQL(", ").join(sql.Identifier(c) for c in columns.values()),
        table=sql.Identifier(table),
        key=sql.Identifier(key),
    )
    rows = conn.execute(query, (sorted(set(keys)),)).fetchall()
    return {str(row[0]).strip(): dict(zip(columns, row, strict=True)) for row in rows}


def _referenced_enterprises(conn: psycopg.Connection, parsed: RegistryFile) -> set[str]:
    codes = {e.record.enterprise for k, es in _by_kind(parsed) if k != "enterprise" for e in es}
    if not codes:
        return set()
    rows = conn.execute("SELECT code FROM enterprises WHERE code = ANY(%s)", (sorted(codes),))
    return {str(code) for (code,) in rows}


def _key(entry: Entry[Any]) -> str:
    return str(entry.record.code if entry.kind == "enterprise" else entry.record.id)


def _check(
    parsed: RegistryFile, stored: Mapping[str, Mapping[str, Mapping[str, Any]]], known: set[str]
) -> None:
    """Duplicates, references and ownership; each problem names its line and field."""
    owners = _check_records(parsed, stored, known)
    _check_meter_references(parsed, stored, owners)


def _check_records(
    parsed: RegistryFile, stored: Mapping[str, Mapping[str, Mapping[str, Any]]], known: set[str]
) -> dict[str, dict[str, str]]:
    """Each record once, of a known enterprise, not moved; returns who owns each site, gateway."""
    owners: dict[str, dict[str, str]] = {"site": {}, "gateway": {}}
    for kind, entries in _by_kind(parsed):
        first: dict[str, int] = {}
        key_field = "code" if kind == "enterprise" else "id"
        for entry in entries:
            key = _key(entry)
            line = parsed.line(kind, entry.index, key_field)
            if key in first:
                parsed.problem(
                    line, kind, key, key_field, f"listed twice (also at line {first[key]})"
                )
                continue
            first[key] = line or entry.line
            if kind == "enterprise":
                known.add(key)
                continue
            enterprise = entry.record.enterprise
            if enterprise not in known:
                parsed.problem(
                    parsed.line(kind, entry.index, "enterprise"),
                    kind,
                    key,
                    "enterprise",
                    f"no enterprise {enterprise} in this file or the registry",
                )
            old = stored[kind].get(key)
            if old is not None and str(old["enterprise"]).strip() != enterprise:
                parsed.problem(
                    parsed.line(kind, entry.index, "enterprise"),
                    kind,
                    key,
                    "enterprise",
                    f"{kind} {key} is registered to enterprise {old['enterprise']}; a {kind}"
                    f" cannot move to another enterprise (register a new {kind} id instead)",
                )
            if kind in owners:
                owners[kind][key] = enterprise
    return owners


def _check_meter_references(
    parsed: RegistryFile,
    stored: Mapping[str, Mapping[str, Mapping[str, Any]]],
    owners: dict[str, dict[str, str]],
) -> None:
    for entry in parsed.meters:
        meter = entry.record
        for kind, ref in (("gateway", meter.gateway), ("site", meter.site)):
            if ref is None:
                continue
            owner = owners[kind].get(ref)
            if ref in parsed.invalid[kind]:
                continue  # its own problems are reported
            if owner is None and ref in stored[kind]:
                owner = str(stored[kind][ref]["enterprise"]).strip()
            line = parsed.line("meter", entry.index, kind)
            if owner is None:
                parsed.problem(
                    line, "meter", meter.id, kind, f"no {kind} {ref!r} in this file or the registry"
                )
            elif owner != meter.enterprise:
                parsed.problem(
                    line,
                    "meter",
                    meter.id,
                    kind,
                    f"{kind} {ref!r} belongs to enterprise {owner}, not to the meter's"
                    f" enterprise {meter.enterprise}",
                )


def _write(
    conn: psycopg.Connection,
    kind: str,
    entries: Sequence[Entry[Any]],
    stored: Mapping[str, Mapping[str, Any]],
) -> list[Change]:
    table, key_column, columns = _TABLES[kind]
    changes: list[Change] = []
    rows: list[dict[str, Any]] = []
    for entry in entries:
        record = entry.record
        key = _key(entry)
        given = {n: getattr(record, n) for n in columns if n in record.model_fields_set}
        if kind == "meter":
            given.setdefault("unit", record.booked_unit)
        old = stored.get(key)
        if old is None:
            values = {name: getattr(record, name) for name in columns}
            if kind == "meter":
                values["unit"] = record.booked_unit
            rows.append(values)
            note = f"give it an MQTT secret: carbonledger broker credential {key}"
            changes.append(Change(kind, key, "added", note=note if kind == "gateway" else ""))
            continue
        diffs = tuple(
            (name, old[name], value) for name, value in given.items() if not _same(old[name], value)
        )
        if not diffs:
            changes.append(Change(kind, key, "unchanged"))
            continue
        rows.append({**old, **given})
        note = (
            _stale_note(conn, key, old)
            if kind == "meter" and any(d[0] in _BOOKING for d in diffs)
            else ""
        )
        changes.append(Change(kind, key, "updated", diffs, note))
    if rows:
        names = list(columns)
        # One statement per kind, the rows as one array per column: a province (50,000
        # enterprises, 143,191 meters) is not a round trip per row.
        query = sql.SQL(
            "INSERT INTO {table} ({cols}) SELECT * FROM unnest({params})"
            " ON CONFLICT ({key}) DO UPDATE SET {sets}"
        ).format(
            table=sql.Identifier(table),
            cols=sql.SQL(", ").join(sql.Identifier(columns[n]) for n in names),
            params=sql.SQL(", ").join(
                sql.SQL("%s::numeric[]" if n in _NUMERIC else "%s::text[]") for n in names
            ),
            key=sql.Identifier(key_column),
            sets=sql.SQL(", ").join(
                sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(columns[n]))
                for n in names
                if n not in ("code", "id")
            ),
        )
        if kind == "enterprise":
            query += sql.SQL(", updated_at = now()")
        conn.execute(query, [[row[n] for row in rows] for n in names])
    return changes


def _stale_note(conn: psycopg.Connection, meter: str, old: Mapping[str, Any]) -> str:
    row = conn.execute(
        "SELECT min(time), max(time) FROM readings WHERE meter_id = %s", (meter,)
    ).fetchone()
    if row is None or row[0] is None:
        return ""
    first, last = (_local_date(t) for t in row)
    return (
        f"rollups computed before used the old value: run carbonledger aggregate recompute"
        f" --enterprise {str(old['enterprise']).strip()} --from {first} --to {last}"
    )


def _local_date(value: datetime) -> date:
    return value.astimezone(SHANGHAI).date()


def _same(old: object, new: object) -> bool:
    if isinstance(old, Decimal) and isinstance(new, Decimal):
        return old == new  # 1 and 1.0 are the same multiplier
    if isinstance(old, str) and isinstance(new, str):
        return old.strip() == new.strip()  # char(18) comes back padded
    return old == new


def show_value(value: object) -> str:
    """A value as reports print it: decimals without trailing zeros, nothing as (none)."""
    if value is None:
        return "(none)"
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return str(value)
