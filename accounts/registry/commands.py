"""``carbonledger registry|economics …``: the imports, and the registry for people.

* ``registry import FILE.toml [--dry-run]``: enterprises, sites, gateways, meters;
* ``registry show CODE`` / ``registry list [--district D] [--industry C]``;
* ``economics import FILE.csv [--source S] [--dry-run]``: value added, revenue, output;

A file with problems prints every one of them (``file:line: field: problem``) and exits 1
having changed nothing. Formats: docs/imports.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import psycopg

from carbonledger.config import Settings, require_database_url
from carbonledger.db.connect import connect
from carbonledger.errors import InvalidImportError
from carbonledger.tz import SHANGHAI

from ._apply import ImportReport, import_registry, show_value
from ._economics import import_economics
from ._lookup import enterprise_details, list_enterprises


def register(subparsers: Any) -> None:
    registry = subparsers.add_parser(
        "registry",
        help="enterprises, sites, gateways and meters: import, show, list",
        description="The registry of supervised enterprises and their meters (docs/imports.md).",
    )
    sub = registry.add_subparsers(dest="registry_command", metavar="ACTION", required=True)
    _import_parser(
        sub,
        "FILE.toml",
        help="add or update enterprises, sites, gateways and meters from a TOML file",
        description="Validate every record, then apply the whole file in one transaction; a "
        "file with any bad record changes nothing and every problem is listed.",
    ).set_defaults(func=_registry_import)
    show = sub.add_parser("show", help="one enterprise: sites, gateways, meters, economic data")
    show.add_argument("code", metavar="CODE", help="unified social credit code")
    show.set_defaults(func=_registry_show)
    lst = sub.add_parser("list", help="the registered enterprises")
    lst.add_argument("--district", default=None, help="only this district, e.g. 莲都区")
    lst.add_argument("--industry", default=None, metavar="CODE", help="GB/T 4754 code prefix")
    lst.set_defaults(func=_registry_list)

    economics = subparsers.add_parser(
        "economics", help="enterprises' economic data (value added, revenue, output)"
    )
    esub = economics.add_subparsers(dest="economics_command", metavar="ACTION", required=True)
    eimp = _import_parser(
        esub,
        "FILE.csv",
        help="add or update economic data from a CSV file (money in 万元)",
        description="Columns: enterprise_code, period (2026-10 or 2026), value_added, revenue, "
        "output_quantity, output_unit. One transaction; a bad line changes nothing.",
    )
    eimp.add_argument("--source", default="import", help="recorded with the data (default: import)")
    eimp.set_defaults(func=_economics_import)


def _import_parser(sub: Any, metavar: str, *, help: str, description: str) -> Any:
    """An ``import FILE [--dry-run]`` action: validate everything, then apply it or only show it."""
    imp = sub.add_parser("import", help=help, description=description)
    imp.add_argument("file", type=Path, metavar=metavar)
    imp.add_argument("--dry-run", action="store_true", help="validate and show the changes only")
    return imp


def _connect(settings: Settings) -> psycopg.Connection:
    return connect(require_database_url(settings), application_name="carbonledger")


def _print_report(report: ImportReport) -> None:
    prefix = "(dry run) " if report.dry_run else ""
    for change in report.changes:
        if change.action != "unchanged":
            _out(f"  {prefix}{change}")
    _out(report.summary())


def _refused(exc: InvalidImportError) -> int:
    print(exc, file=sys.stderr)  # noqa: T201 - the clerk's list of problems, whole and plain
    return 1


def _registry_import(args: argparse.Namespace, settings: Settings) -> int:
    try:
        with _connect(settings) as conn:
            report = import_registry(conn, args.file, dry_run=args.dry_run)
    except InvalidImportError as exc:
        return _refused(exc)
    _print_report(report)
    return 0


def _economics_import(args: argparse.Namespace, settings: Settings) -> int:
    try:
        with _connect(settings) as conn:
            report = import_economics(conn, args.file, source=args.source, dry_run=args.dry_run)
    except InvalidImportError as exc:
        return _refused(exc)
    _print_report(report)
    return 0


def _registry_show(args: argparse.Namespace, settings: Settings) -> int:
    with _connect(settings) as conn:
        d = enterprise_details(conn, args.code)
    e = d.enterprise
    _out(f"{e['code']}  {e['name']}")
    _out(
        f"  industry {e['industry_code']}  district {e['district']}  size {e['size_class'] or '-'}"
    )
    created, updated = (e[k].astimezone(SHANGHAI) for k in ("created_at", "updated_at"))
    _out(f"  registered {created:%Y-%m-%d}, updated {updated:%Y-%m-%d %H:%M} (+08:00)")
    if d.sites:
        _out("sites")
        for s in d.sites:
            _out(f"  {s['id']}  {s['name']}" + (f"  {s['address']}" if s["address"] else ""))
    _out("gateways")
    for g in d.gateways:
        state = "credential set" if g["has_credential"] else "no credential"
        _out(f"  {g['id']}  {'revoked' if g['revoked_at'] else state}")
    _out("meters")
    columns = ["id", "gateway_id", "site_id", "carrier", "quantity", "unit", "multiplier"]
    columns += ["register_max", "max_rate", "role", "source"]
    _table(columns, [[m[c] for c in columns] for m in d.meters])
    if d.economics:
        _out("economic data (money in 万元)")
        _table(
            ["period", "value_added", "revenue", "output", "source"],
            [[_period(x), x["value_added"], x["revenue"], _output(x), x["source"]]
             for x in d.economics],
        )  # fmt: skip
    return 0


def _period(row: dict[str, Any]) -> str:
    start = row["period_start"]
    return f"{start:%Y-%m}" if row["period_kind"] == "month" else f"{start:%Y}"


def _output(row: dict[str, Any]) -> str | None:
    if row["output_unit"] is None:
        return None
    return f"{_cell(row['output_quantity'])} {row['output_unit']}"


def _registry_list(args: argparse.Namespace, settings: Settings) -> int:
    with _connect(settings) as conn:
        rows = list_enterprises(conn, district=args.district, industry=args.industry)
    columns = ["code", "name", "industry_code", "district", "size_class", "meters"]
    _table(
        [*columns, "economic data to"],
        [[*(r[c] for c in columns), r["latest_month"] and f"{r['latest_month']:%Y-%m}"]
         for r in rows],
    )  # fmt: skip
    _out(f"{len(rows)} enterprise{'s' if len(rows) != 1 else ''}")
    return 0


def _cell(value: object) -> str:
    return "-" if value is None else show_value(value)


def _width(text: str) -> int:
    """Display width: CJK characters take two columns."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _table(header: list[str], rows: list[list[object]]) -> None:
    cells = [header, *([_cell(v) for v in row] for row in rows)]
    widths = [max(_width(r[i]) for r in cells) for i in range(len(header))]
    for row in cells:
        _out(
            "  "
            + "  ".join(
                c + " " * (w - _width(c)) for c, w in zip(row, widths, strict=True)
            ).rstrip()
        )


def _out(text: str) -> None:
    print(text)  # noqa: T201 - a command's output
