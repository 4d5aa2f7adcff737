"""``carbonledger projects …``: the project library for the bureau and the enterprises, and
the per-loan disclosure for the banks (docs/projects.md).

The command line is the server operator's: ``declare`` and ``drivers`` act for the project's
owner enterprise, ``screen``, ``admit`` and ``retire`` for the bureau; ``--by`` names the person,
recorded in the log. Over HTTP the key's role decides (``/v1/projects``).
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from accounts.ledger import Period
from carbonledger.config import Settings
from carbonledger.db.connect import command_connection
from carbonledger.errors import ConfigError
from carbonledger.tz import SHANGHAI
from projects import library
from projects._errors import MethodError
from projects._files import read_declaration, read_drivers
from projects._model import Stage
from projects._read import read_project, read_projects, read_transitions
from projects._render import disclosure_text, project_text, reductions_text
from projects._result import Reductions
from projects.disclosure import disclosure
from projects.reductions import reductions
from projects.refresh import refresh


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "projects",
        help="climate projects: declare, screen, admit, retire, show, explain, disclosure",
        description="The climate investment-and-financing project library (docs/projects.md).",
    )
    sub = parser.add_subparsers(dest="projects_command", metavar="ACTION", required=True)
    p = sub.add_parser("declare", help="declare a project from a TOML file (the enterprise)")
    p.add_argument("file", type=Path, metavar="FILE.toml")
    p.add_argument("--by", required=True, help="who declares (recorded)")
    p.set_defaults(func=_declare)
    p = sub.add_parser("screen", help="check the published criteria (the bureau)")
    p.add_argument("id", metavar="PROJECT")
    p.add_argument("--by", required=True)
    p.set_defaults(func=_screen)
    for name, text in (("admit", "take a screened project into the library (the bureau)"),
                       ("retire", "take a project out of the library (the bureau)")):  # fmt: skip
        p = sub.add_parser(name, help=text)
        p.add_argument("id", metavar="PROJECT")
        p.add_argument("--by", required=True)
        p.add_argument("--note", default=None)
        p.set_defaults(func=_step, action=name)
    p = sub.add_parser("drivers", help="baseline driver values per month from CSV (the owner)")
    p.add_argument("id", metavar="PROJECT")
    p.add_argument("file", type=Path, metavar="FILE.csv", help="month,value,source")
    p.add_argument("--by", required=True)
    p.set_defaults(func=_drivers)
    p = sub.add_parser("list", help="the projects, by stage and owner")
    p.add_argument("--stage", choices=[s.value for s in Stage], default=None)
    p.add_argument("--owner", default=None, metavar="CODE")
    p.set_defaults(func=_list)
    shown = (
        ("show", "a project, its history and reductions"),
        ("explain", "how its reductions are derived: meters, baseline, factors"),
    )
    for name, text in shown:
        p = sub.add_parser(name, help=text)
        p.add_argument("id", metavar="PROJECT")
        p.add_argument("--period", default="mtd", help="YYYY-MM, YYYY, mtd or rolling12")
        p.add_argument("--json", action="store_true", help="machine-readable")
        p.set_defaults(func=_show, explain=name == "explain")
    p = sub.add_parser("refresh", help="recompute the cockpit's monthly reductions (this year)")
    p.set_defaults(func=_refresh)
    p = sub.add_parser(
        "disclosure",
        help="a bank's per-loan table for the carbon emission reduction facility",
        description="Each loan that finances a consenting owner's project, with the reduction"
        " attributed to it (project reduction x loan / total investment).",
    )
    p.add_argument("--bank", required=True, help="the bank's id")
    p.add_argument("--year", type=int, required=True)
    p.add_argument("--format", choices=["json", "csv", "text"], default="text")
    p.add_argument("--out", type=Path, default=None, help="write to FILE instead of stdout")
    p.set_defaults(func=_disclosure)


def _now() -> datetime:
    return datetime.now(SHANGHAI)


def _bureau(args: argparse.Namespace) -> library.Actor:
    return library.Actor("bureau", args.by)


def _declare(args: argparse.Namespace, settings: Settings) -> int:
    declaration = read_declaration(args.file)
    actor = library.Actor("enterprise", args.by, declaration.owner_code)
    with command_connection(settings) as conn:
        found = library.declare(conn, declaration, actor, _now())
    print(f"project {found.id} declared by {found.owner_code}: {found.title}")
    return 0


def _screen(args: argparse.Namespace, settings: Settings) -> int:
    with command_connection(settings) as conn:
        result = library.screen(conn, args.id, _bureau(args), _now())
    for c in result.criteria:
        print(f"  {'ok ' if c.passed else 'NO '} {c.rule}: {c.detail}")
    print(f"project {args.id} {'screened' if result.passed else 'did not pass: stays declared'}")
    return 0 if result.passed else 1


def _step(args: argparse.Namespace, settings: Settings) -> int:
    step = library.admit if args.action == "admit" else library.retire
    with command_connection(settings) as conn:
        found = step(conn, args.id, _bureau(args), _now(), note=args.note)
    print(f"project {found.id} is {found.stage}")
    return 0


def _drivers(args: argparse.Namespace, settings: Settings) -> int:
    values = read_drivers(args.file)
    with command_connection(settings) as conn:
        owner = read_project(conn, args.id).owner_code
        count = library.set_drivers(
            conn, args.id, values, library.Actor("enterprise", args.by, owner)
        )
    print(f"{count} driver values recorded for {args.id}")
    return 0


def _list(args: argparse.Namespace, settings: Settings) -> int:
    stage = Stage(args.stage) if args.stage else None
    with command_connection(settings) as conn:
        found = read_projects(conn, owner=args.owner, stage=stage)
    for p in found:
        print(f"{p.id:<24} {p.stage:<9} {p.area}/{p.subcategory:<22} {p.method:<11} {p.title}")
    return 0


def _show(args: argparse.Namespace, settings: Settings) -> int:
    period = Period.option(args.period)
    with command_connection(settings) as conn:
        project = read_project(conn, args.id)
        history = read_transitions(conn, args.id)
        try:
            measured: Reductions | None = reductions(conn, args.id, period, _now())
            problem = None
        except MethodError as exc:  # the project is still shown, with why there is no figure
            measured, problem = None, str(exc)
    if args.json:
        body = {
            "project": project.model_dump(mode="json"),
            "history": [t.model_dump(mode="json") for t in history],
            "reductions": None if measured is None else measured.as_json(),
            "problem": problem,
        }
        print(json.dumps(body, ensure_ascii=False, indent=2))
        return 0 if measured is not None else 1
    lines = project_text(project, [] if args.explain else history)
    if measured is None:
        print("\n".join([*lines, f"reductions cannot be computed: {problem}"]))
        return 1
    print("\n".join([*lines, *reductions_text(measured, explain=args.explain)]))
    return 0


def _disclosure(args: argparse.Namespace, settings: Settings) -> int:
    with command_connection(settings) as conn:
        table = disclosure(conn, args.bank, args.year, _now())
    if args.format == "json":
        text = json.dumps(table.as_json(), ensure_ascii=False, indent=2) + "\n"
    elif args.format == "csv":
        text = table.as_csv()
    else:
        text = "\n".join(disclosure_text(table)) + "\n"
    if args.out is None:
        print(text, end="")
        return 0
    try:
        args.out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write {args.out}: {exc.strerror}") from exc
    print(f"{len(table.lines)} loans written to {args.out} ({table.withheld} withheld)")
    return 0


def _refresh(args: argparse.Namespace, settings: Settings) -> int:
    with command_connection(settings) as conn:
        done = refresh(conn, _now())
    for found in done:
        print(
            f"{found.project_id}: {len(found.months)} months, {found.as_json()['total_tco2']} tCO2"
        )
    return 0
