"""``carbonledger accounts …``: show, explain, report, close, recompute, run, factors."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from accounts.ledger import (
    Period,
    close,
    explain_account,
    get_account,
    load_factors,
    read_library,
    recompute,
    refresh_live,
)
from accounts.ledger._render import render_account, render_derivation
from accounts.ledger._report import annual_report, annual_report_csv
from accounts.ledger.service import LiveAccounts
from carbonledger.config import Settings, require_database_url
from carbonledger.db.connect import command_connection
from carbonledger.errors import ConfigError
from carbonledger.metrics import serve_metrics
from carbonledger.signals import stop_on_signals

M = TypeVar("M", bound=BaseModel)
log = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "accounts",
        help="carbon accounts: show, explain, report, close, recompute, run",
        description="Enterprise carbon accounts (GB/T 32150) and carbon-efficiency codes.",
    )
    sub = parser.add_subparsers(dest="accounts_command", metavar="ACTION", required=True)

    for name, text in (("show", "an enterprise's account"), ("explain", "its full derivation")):
        p = sub.add_parser(name, help=text, description=f"Print {text} for a period.")
        p.add_argument("code", metavar="CODE", help="unified social credit code")
        p.add_argument("--period", required=True, help="YYYY-MM, YYYY, mtd or rolling12")
        p.add_argument("--json", action="store_true", help="machine-readable, unrounded")
        p.set_defaults(func=_show if name == "show" else _explain)

    report = sub.add_parser("report", help="annual report (GB/T 32150 structure)")
    report.add_argument("code", metavar="CODE")
    report.add_argument("--year", type=int, required=True)
    report.add_argument("--format", choices=("json", "csv"), default="json")
    report.add_argument("--out", type=Path, default=None, help="file to write (default: stdout)")
    report.set_defaults(func=_report)

    actions = (
        ("close", "freeze a past month or year"),
        ("recompute", "recompute closed accounts, keeping the old version"),
    )
    for name, text in actions:
        p = sub.add_parser(name, help=text, description=text)
        which = p.add_mutually_exclusive_group(required=True)
        which.add_argument("--month", help="YYYY-MM")
        which.add_argument("--year", help="YYYY")
        p.add_argument("--enterprise", metavar="CODE", default=None, help="only this one")
        if name == "recompute":
            p.add_argument("--reason", required=True, help="why (recorded with the new version)")
        p.set_defaults(func=_close if name == "close" else _recompute)

    run = sub.add_parser("run", help="keep live accounts and grades current (a service)")
    run.set_defaults(func=_run)
    refresh = sub.add_parser("refresh", help="refresh every live account once and exit")
    refresh.set_defaults(func=_refresh)

    factors = sub.add_parser("factors", help="the factor library")
    fsub = factors.add_subparsers(dest="factors_command", metavar="ACTION", required=True)
    load = fsub.add_parser("load", help="load the data files into the database (idempotent)")
    load.set_defaults(func=_load)
    check = fsub.add_parser("check", help="validate the data files (no database)")
    check.set_defaults(func=_check)


def _show(args: argparse.Namespace, settings: Settings) -> int:

    with command_connection(settings) as conn:
        account = get_account(
            conn, args.code, Period.option(args.period), settings=settings.accounts
        )
    return _emit(account, render_account, as_json=args.json)


def _explain(args: argparse.Namespace, settings: Settings) -> int:

    with command_connection(settings) as conn:
        derivation = explain_account(
            conn, args.code, Period.option(args.period), settings=settings.accounts
        )
    return _emit(derivation, render_derivation, as_json=args.json)


def _emit(model: M, render: Callable[[M], str], *, as_json: bool) -> int:
    """Print ``model`` as JSON, or rendered for people."""
    if as_json:
        print(json.dumps(model.model_dump(mode="json"), ensure_ascii=False, indent=2))  # noqa: T201
    else:
        sys.stdout.write(render(model))
    return 0


def _report(args: argparse.Namespace, settings: Settings) -> int:

    with command_connection(settings) as conn:
        account = get_account(
            conn, args.code, Period.option(str(args.year)), settings=settings.accounts
        )
    if args.format == "json":
        text = json.dumps(annual_report(account), ensure_ascii=False, indent=2) + "\n"
    else:
        text = annual_report_csv(account)
    if args.out is None:
        sys.stdout.write(text)
    else:
        try:
            args.out.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{args.out}: cannot write: {exc.strerror}") from exc
        log.info("report written", extra={"file": str(args.out), "status": account.status})
    return 0


def _close(args: argparse.Namespace, settings: Settings) -> int:

    period = Period.option(args.month or args.year)
    codes = [args.enterprise] if args.enterprise else None
    with command_connection(settings) as conn:
        closed = close(conn, period, settings.accounts, codes)
    for account in closed:
        print(f"{account.enterprise.code}  {period.label}  closed  {account.totals.total} tCO2")  # noqa: T201
    print(f"{len(closed)} account(s) closed for {period.label}")  # noqa: T201
    return 0


def _recompute(args: argparse.Namespace, settings: Settings) -> int:

    period = Period.option(args.month or args.year)
    codes = [args.enterprise] if args.enterprise else None
    with command_connection(settings) as conn:
        results = recompute(conn, period, args.reason, settings.accounts, codes)
    for r in results:
        change = (
            f"version {r.old_version} -> {r.new_version}: {r.old_total} -> {r.new_total} tCO2"
            if r.new_version
            else f"version {r.old_version} unchanged"
        )
        print(f"{r.code}  {period.label}  {change}")  # noqa: T201
    return 0


def _run(args: argparse.Namespace, settings: Settings) -> int:

    stop = stop_on_signals()
    service = LiveAccounts(require_database_url(settings), settings.accounts)
    serve_metrics(service.metrics.registry, settings.accounts.metrics_port, settings.metrics_host)
    service.run(stop)
    log.info("live accounts stopped")
    return 0


def _refresh(args: argparse.Namespace, settings: Settings) -> int:

    with command_connection(settings) as conn:
        result = refresh_live(conn, settings.accounts)
    log.info(
        "live accounts refreshed",
        extra={
            "enterprises": result.enterprises,
            "accounts": result.accounts,
            "grades": result.grades,
            "seconds": round(result.seconds, 3),
        },
    )
    return 0


def _load(args: argparse.Namespace, settings: Settings) -> int:

    with command_connection(settings) as conn:
        report = load_factors(conn, settings.accounts.factor_files)
    print(f"factor library: {report.added} added, {report.unchanged} unchanged")  # noqa: T201
    return 0


def _check(args: argparse.Namespace, settings: Settings) -> int:

    entries = read_library(settings.accounts.factor_files)
    print(f"factor library: {len(entries)} entries valid")  # noqa: T201
    return 0
