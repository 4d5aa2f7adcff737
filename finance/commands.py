"""``carbonledger finance …``: a bank operator's commands (docs/finance.md).

import   the bank's loan book from a CSV (every bad line named, nothing half-written)
book     the book's financed emissions, metrics and watchlist
explain  one loan: loan -> attribution -> account version -> emissions -> score
report   the JR/T 0227-2021 financed-emissions section as JSON, CSV or printable HTML
trend    the book month over month
publish  every bank's figures into loan_figures (the bureau's cockpit reads them)
city     the city-wide totals over every bank (the bureau's view)

The operator's commands read the book as the bank may see it (consent applies); ``publish``
and ``city`` are the bureau's, which sees every account.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from carbonledger.config import Settings
from carbonledger.db.connect import command_connection
from carbonledger.errors import InvalidImportError
from finance._book import explain_loan, financed_book, trend
from finance._city import city_totals, publish
from finance._model import Book, LoanFigure
from finance._render import render_book, render_city, render_loan, render_trend
from finance._report import disclosure, disclosure_csv, disclosure_html
from finance.loans import import_loans

Handler = Callable[[argparse.Namespace, Settings], int]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "finance",
        help="banks' loan books: import, financed emissions, explain, JR/T 0227 report",
        description="Loan books, financed emissions (PCAF Part A), disclosure (docs/finance.md).",
    )
    sub = parser.add_subparsers(dest="finance_command", metavar="ACTION", required=True)
    p = sub.add_parser("import", help="a bank's loan book from CSV (one transaction)")
    p.add_argument("file", type=Path, metavar="FILE.csv")
    p.add_argument("--bank", required=True, help="bank id (as registered with its API keys)")
    p.add_argument("--dry-run", action="store_true", help="check and report, write nothing")
    p.set_defaults(func=_import)
    for name, text, func in (
        ("book", "the book's financed emissions, metrics and watchlist", _book),
        ("explain", "one loan's derivation", _explain),
    ):
        p = sub.add_parser(name, help=text)
        if name == "explain":
            p.add_argument("loan_id", metavar="LOAN_ID")
        _book_args(p)
        p.add_argument("--json", action="store_true", help="machine-readable, unrounded")
        p.set_defaults(func=func)
    p = sub.add_parser("report", help="the JR/T 0227-2021 financed-emissions section")
    _book_args(p, year_required=True)
    p.add_argument("--format", choices=("json", "csv", "html"), default="json")
    p.add_argument("--out", type=Path, default=None, help="file to write (default: stdout)")
    p.set_defaults(func=_report)
    p = sub.add_parser("trend", help="the book month over month")
    p.add_argument("--bank", required=True)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_trend)
    p = sub.add_parser("publish", help="store every bank's figures for the cockpit (bureau)")
    p.add_argument("--year", type=int, required=True)
    p.set_defaults(func=_publish)
    p = sub.add_parser("city", help="city-wide totals over every bank (bureau)")
    p.add_argument("--year", type=int, required=True)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_city)


def _book_args(p: argparse.ArgumentParser, *, year_required: bool = False) -> None:
    p.add_argument("--bank", required=True, help="bank id")
    p.add_argument("--year", type=int, required=year_required, default=None, help="accounting year")
    p.add_argument(
        "--as-of", type=date.fromisoformat, default=None, help="book date (default: newest)"
    )


def _load(args: argparse.Namespace, settings: Settings) -> Book:
    with command_connection(settings) as conn:
        return financed_book(conn, args.bank, year=args.year, as_of=args.as_of)


def _emit(model: BaseModel, text: str, *, as_json: bool) -> int:
    if as_json:
        sys.stdout.write(
            json.dumps(model.model_dump(mode="json"), ensure_ascii=False, indent=2) + "\n"
        )
    else:
        sys.stdout.write(text)
    return 0


def _import(args: argparse.Namespace, settings: Settings) -> int:
    try:
        with command_connection(settings) as conn:
            report = import_loans(conn, args.bank, args.file, dry_run=args.dry_run)
    except InvalidImportError as exc:
        sys.stderr.write(f"{exc}\n")
        return 1
    for change in report.changes:
        if change.action != "unchanged":
            sys.stdout.write(f"{change}\n")
    sys.stdout.write(report.summary() + "\n")
    return 0


def _book(args: argparse.Namespace, settings: Settings) -> int:
    book = _load(args, settings)
    return _emit(book, render_book(book), as_json=args.json)


def _explain(args: argparse.Namespace, settings: Settings) -> int:
    figure: LoanFigure = explain_loan(_load(args, settings), args.loan_id)
    return _emit(figure, render_loan(figure), as_json=args.json)


def _report(args: argparse.Namespace, settings: Settings) -> int:
    with command_connection(settings) as conn:
        book = financed_book(conn, args.bank, year=args.year, as_of=args.as_of)
        row = conn.execute("SELECT name FROM banks WHERE id = %s", (args.bank,)).fetchone()
    section = disclosure(book, row[0] if row else None)
    if args.format == "json":
        text = json.dumps(section, ensure_ascii=False, indent=2) + "\n"
    elif args.format == "csv":
        text = disclosure_csv(section)
    else:
        text = disclosure_html(section)
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.write_text(text, encoding="utf-8")
        sys.stdout.write(f"wrote {args.out}\n")
    return 0


def _trend(args: argparse.Namespace, settings: Settings) -> int:
    with command_connection(settings) as conn:
        months = trend(conn, args.bank)
    if args.json:
        sys.stdout.write(
            json.dumps([m.model_dump(mode="json") for m in months], ensure_ascii=False, indent=2)
            + "\n"
        )
    else:
        sys.stdout.write(render_trend(months))
    return 0


def _publish(args: argparse.Namespace, settings: Settings) -> int:
    with command_connection(settings) as conn:
        written = publish(conn, args.year)
    sys.stdout.write(f"published {written} loan figures for {args.year}\n")
    return 0


def _city(args: argparse.Namespace, settings: Settings) -> int:
    with command_connection(settings) as conn:
        totals = city_totals(conn, args.year)
    return _emit(totals, render_city(totals), as_json=args.json)
