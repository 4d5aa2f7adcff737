"""Economic data imports: value added, revenue and output per enterprise and month or year.

The CSV (docs/imports.md) has one row per enterprise and period; money is in 万元 (10,000 CNY),
exact decimals. Every row is checked (every field of it, not only the first bad one), then the
enterprises are looked up, and the whole file is written in one transaction or not at all.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import psycopg

from carbonledger import uscc
from carbonledger.csvfile import Problems, read_rows
from carbonledger.errors import RegistryError
from carbonledger.tz import SHANGHAI

from ._apply import Change, ImportReport

# The balance sheet at the period's end (万元) is what PCAF attribution needs (finance/):
# total assets, equity (may be negative), debt, and EVIC for listed companies.
BALANCE_SHEET = ("total_assets", "total_equity", "total_debt", "evic")
COLUMNS = (
    "enterprise_code", "period", "value_added", "revenue", "output_quantity", "output_unit",
    *BALANCE_SHEET,
)  # fmt: skip
REQUIRED = ("enterprise_code", "period")
_VALUES = ("value_added", "revenue", "output_quantity", "output_unit", *BALANCE_SHEET)
_PERIOD = re.compile(r"(\d{4})(?:-(\d{2}))?")


@dataclass(frozen=True, slots=True)
class EconomicRecord:
    """One enterprise's economic data for one calendar month or year (Asia/Shanghai)."""

    line: int
    enterprise_code: str
    period_kind: str  # month | year
    period_start: date
    value_added: Decimal | None  # 万元
    revenue: Decimal | None  # 万元
    output_quantity: Decimal | None
    output_unit: str | None
    total_assets: Decimal | None  # 万元, at the period's end
    total_equity: Decimal | None  # 万元, may be negative
    total_debt: Decimal | None  # 万元
    evic: Decimal | None  # 万元, listed companies
    # the file's columns: a value whose column the file lacks keeps its stored value
    columns: frozenset[str]

    @property
    def period(self) -> str:
        start = self.period_start
        return f"{start:%Y-%m}" if self.period_kind == "month" else f"{start:%Y}"


def parse_period(text: str) -> tuple[str, date]:
    """``2026-10`` -> (month, 2026-10-01); ``2026`` -> (year, 2026-01-01); else ValueError."""
    match = _PERIOD.fullmatch(text)
    if not match:
        raise ValueError(f"{text!r} is not a period: write a month as 2026-10 or a year as 2026")
    year = int(match.group(1))
    if not 2000 <= year <= 2100:
        raise ValueError(f"{text!r}: year {year} is outside 2000-2100")
    if match.group(2) is None:
        return "year", date(year, 1, 1)
    month = int(match.group(2))
    if not 1 <= month <= 12:
        raise ValueError(f"{text!r}: month {month:02d} is not 01-12")
    return "month", date(year, month, 1)


def read_economics(path: Path, today: date | None = None) -> list[EconomicRecord]:
    """Every row of ``path`` validated; :class:`InvalidImportError` lists all bad fields."""
    problems = Problems(path)
    together = ("output_quantity", "output_unit")
    rows = problems.readable(read_rows(path, COLUMNS, REQUIRED, together=together))
    records = validate_economics(rows, problems, today)
    problems.raise_if_any()
    return records


def validate_economics(
    rows: Iterable[tuple[int, Mapping[str, str]]],
    problems: Problems,
    today: date | None = None,
    *,
    registered: Collection[str] = (),
) -> list[EconomicRecord]:
    """The one set of rules for economic data, whoever submits it (file, API, simulator).

    ``rows`` are (line, {column: text}) with the CSV's columns; a column left out keeps its
    stored value. Every fault of every row is added to ``problems``; only valid rows are returned.
    Codes in ``registered`` were found in the registry by the caller and are not checked again.
    """
    today = today or datetime.now(SHANGHAI).date()
    records: list[EconomicRecord] = []
    seen: dict[tuple[str, date, str], int] = {}
    for line, values in rows:
        record = _record(line, values, today, problems, registered)
        if record is None:
            continue
        key = (record.enterprise_code, record.period_start, record.period_kind)
        if key in seen:
            problems.add(
                line,
                "period",
                f"{record.enterprise_code} {record.period} is also given at line {seen[key]}",
            )
            continue
        seen[key] = line
        records.append(record)
    return records


def _record(
    line: int,
    values: Mapping[str, str],
    today: date,
    problems: Problems,
    registered: Collection[str],
) -> EconomicRecord | None:
    before = problems.count
    code = values.get("enterprise_code", "")
    try:
        if code not in registered:
            code = uscc.parse(code)
    except RegistryError as exc:
        problems.add(line, "enterprise_code", str(exc) if code else "missing (required)")
    kind, start = "month", today
    try:
        kind, start = parse_period(values.get("period", ""))
        if start > today:
            problems.add(line, "period", f"{values['period']} has not begun yet")
    except ValueError as exc:
        problems.add(line, "period", str(exc))
    amounts: dict[str, Decimal | None] = {}
    for name in ("value_added", "revenue", "output_quantity", *BALANCE_SHEET):
        amounts[name] = _amount(line, name, values.get(name, ""), problems)
    unit = values.get("output_unit") or None
    if bool(values.get("output_quantity")) != bool(unit):
        missing = "output_unit" if unit is None else "output_quantity"
        problems.add(line, missing, "output_quantity and output_unit go together: give both")
    if not any(values.get(name) for name in ("value_added", "revenue", *BALANCE_SHEET)):
        problems.add(
            line,
            "value_added",
            "give value_added or revenue (or both), or a balance sheet, in 万元",
        )
    if amounts["evic"] == 0:
        problems.add(line, "evic", "0: EVIC of a listed company is positive")
    if problems.count > before:
        return None
    return EconomicRecord(
        line, code, kind, start, amounts["value_added"], amounts["revenue"],
        amounts["output_quantity"], unit, amounts["total_assets"], amounts["total_equity"],
        amounts["total_debt"], amounts["evic"], frozenset(values),
    )  # fmt: skip


def _swapped(value_added: object, revenue: object) -> str:
    """A note when value added exceeds revenue, which the accounts of a real firm cannot show."""
    if isinstance(value_added, Decimal) and isinstance(revenue, Decimal) and value_added > revenue:
        return "value added exceeds revenue: are the two columns swapped?"
    return ""


def _amount(line: int, name: str, text: str, problems: Problems) -> Decimal | None:
    if not text:
        return None
    unit = "万元, " if name != "output_quantity" else ""
    try:
        value = Decimal(text)
    except InvalidOperation:
        problems.add(
            line, name, f"{text!r} is not a number ({unit}write e.g. 1234.5, no separators)"
        )
        return None
    if not value.is_finite():
        problems.add(line, name, f"{text!r} is not a finite number")
        return None
    if value < 0 and name != "total_equity":  # equity of an insolvent firm is negative
        problems.add(line, name, f"{text} is negative")
        return None
    return value


_STORED = """
SELECT enterprise_code, period_kind, period_start, value_added, revenue, output_quantity,
       output_unit, total_assets, total_equity, total_debt, evic, source
FROM economic_data WHERE enterprise_code = ANY(%s) FOR UPDATE
"""
# The same upsert for a whole file in one statement: the rows as one array per column. An import
# has each (enterprise, period) once (validate_economics), so no row is affected twice.
_UPSERT_ALL = """
INSERT INTO economic_data (enterprise_code, period_kind, period_start, value_added, revenue,
                           output_quantity, output_unit, total_assets, total_equity, total_debt,
                           evic, source, submitted_at)
SELECT w.*, now()
FROM unnest(%s::text[], %s::text[], %s::date[], %s::numeric[], %s::numeric[], %s::numeric[],
            %s::text[], %s::numeric[], %s::numeric[], %s::numeric[], %s::numeric[],
            %s::text[]) AS w
ON CONFLICT (enterprise_code, period_kind, period_start) DO UPDATE SET
    value_added = EXCLUDED.value_added, revenue = EXCLUDED.revenue,
    output_quantity = EXCLUDED.output_quantity, output_unit = EXCLUDED.output_unit,
    total_assets = EXCLUDED.total_assets, total_equity = EXCLUDED.total_equity,
    total_debt = EXCLUDED.total_debt, evic = EXCLUDED.evic,
    source = EXCLUDED.source, submitted_at = now()
"""
_UPSERT = """
INSERT INTO economic_data (enterprise_code, period_kind, period_start, value_added, revenue,
                           output_quantity, output_unit, total_assets, total_equity, total_debt,
                           evic, source, submitted_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now())
ON CONFLICT (enterprise_code, period_kind, period_start) DO UPDATE SET
    value_added = EXCLUDED.value_added, revenue = EXCLUDED.revenue,
    output_quantity = EXCLUDED.output_quantity, output_unit = EXCLUDED.output_unit,
    total_assets = EXCLUDED.total_assets, total_equity = EXCLUDED.total_equity,
    total_debt = EXCLUDED.total_debt, evic = EXCLUDED.evic,
    source = EXCLUDED.source, submitted_at = now()
"""


def apply_economics(
    conn: psycopg.Connection,
    path: Path,
    records: list[EconomicRecord],
    *,
    source: str = "import",
    dry_run: bool = False,
    keep_others: bool = False,
) -> ImportReport:
    """Write the records in one transaction; an unknown enterprise fails the whole file.

    ``keep_others`` leaves a period alone that someone other than ``source`` submitted (the
    simulator never overwrites an enterprise's own figures).
    """
    codes = sorted({r.enterprise_code for r in records})
    with conn.transaction(force_rollback=dry_run):
        known = {
            str(c).strip()
            for (c,) in conn.execute("SELECT code FROM enterprises WHERE code = ANY(%s)", (codes,))
        }
        problems = Problems(path)
        for r in records:
            if r.enterprise_code not in known:
                problems.add(
                    r.line,
                    "enterprise_code",
                    f"no enterprise {r.enterprise_code} in the registry (import it first with"
                    " carbonledger registry import)",
                )
        problems.raise_if_any()
        stored, others = {}, set()
        for row in conn.execute(_STORED, (codes,)):
            period = (str(row[0]).strip(), row[1], row[2])
            if keep_others and row[11] != source:
                others.add(period)
            else:
                stored[period] = row[3:11]
        changes: list[Change] = []
        writes = []
        for r in records:
            given = (
                r.value_added, r.revenue, r.output_quantity, r.output_unit, r.total_assets,
                r.total_equity, r.total_debt, r.evic,
            )  # fmt: skip
            old = stored.get((r.enterprise_code, r.period_kind, r.period_start))
            key = f"{r.enterprise_code} {r.period}"
            if (r.enterprise_code, r.period_kind, r.period_start) in others:
                changes.append(Change("economic record", key, "unchanged", note="kept"))
                continue
            new = tuple(
                value if name in r.columns or old is None else old[i]
                for i, (name, value) in enumerate(zip(_VALUES, given, strict=True))
            )
            note = _swapped(new[0], new[1])
            if old is None:
                changes.append(Change("economic record", key, "added", note=note))
            else:
                diffs = tuple(
                    (name, o, n) for name, o, n in zip(_VALUES, old, new, strict=True) if o != n
                )
                if not diffs:
                    changes.append(Change("economic record", key, "unchanged"))
                    continue
                changes.append(Change("economic record", key, "updated", diffs, note))
            writes.append((r.enterprise_code, r.period_kind, r.period_start, *new, source))
        if writes:  # one statement, not a round trip per row: 1.25 million rows for a province
            conn.execute(_UPSERT_ALL, [list(column) for column in zip(*writes, strict=True)])
    return ImportReport(str(path), tuple(changes), dry_run)


def import_economics(
    conn: psycopg.Connection,
    path: Path,
    *,
    source: str = "import",
    dry_run: bool = False,
    today: date | None = None,
) -> ImportReport:
    """Read, validate and apply the economic-data CSV ``path`` in one transaction."""
    return apply_economics(conn, path, read_economics(path, today), source=source, dry_run=dry_run)


async def store_economics(
    conn: psycopg.AsyncConnection, records: Sequence[EconomicRecord], source: str
) -> int:
    """Write records whose every column was given (an API upload replaces its periods whole).

    The caller has checked that the enterprise exists and may be written by whoever submits.
    """
    rows = [
        (r.enterprise_code, r.period_kind, r.period_start, r.value_added, r.revenue,
         r.output_quantity, r.output_unit, r.total_assets, r.total_equity, r.total_debt, r.evic,
         source)
        for r in records
    ]  # fmt: skip
    async with conn.transaction():
        cur = conn.cursor()
        await cur.executemany(_UPSERT, rows)
    return len(rows)
