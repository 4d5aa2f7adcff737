"""The ``carbonledger`` command: one entry point, a subcommand per job.

Each feature module contributes its own subcommands through a ``register(subparsers)`` function,
listed by command name in :data:`launcher.families.COMMANDS`; the handler it sets receives the
parsed arguments and the validated :class:`~carbonledger.config.Settings` and returns an exit
status. Only the family of the command being run is imported (all of them for ``--help``), so a
command's weight is its own: ``edge`` loads no server dependency.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn

from carbonledger import __version__, logs
from carbonledger.config import Settings, load_settings
from carbonledger.errors import CarbonLedgerError
from launcher.families import (
    COMMANDS,
    MissingExtraError,
    commands_of,
    families,
    load,
    missing_extra,
)

log = logging.getLogger("carbonledger")


def command_name(argv: Sequence[str]) -> str | None:
    """The top-level command in ``argv``: the first word that is neither an option nor its value."""
    words: Iterator[str] = iter(argv)
    for word in words:
        if word == "--config":
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser with ``command``'s family, or every family when ``command`` is None or unknown.

    Raises MissingExtraError when ``command``'s family needs an extra that is not installed; with
    every family, such a family is listed with the install line instead.
    """
    parser = argparse.ArgumentParser(
        prog="carbonledger",
        description="Enterprise carbon accounts from live meter readings.",
    )
    parser.add_argument("--version", action="version", version=f"carbonledger {__version__}")
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="TOML settings file (also CARBONLEDGER_CONFIG); environment variables override it",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    if command in COMMANDS:
        load(COMMANDS[command]).register(subparsers)
        return parser
    for family in families():
        try:
            module = load(family)
        except MissingExtraError as exc:
            for name in commands_of(family):
                stub = subparsers.add_parser(
                    name, help=f"needs `pip install 'carbonledger[{exc.extra}]'`"
                )
                stub.set_defaults(func=_refuse(exc))
        else:
            module.register(subparsers)
    return parser


def _refuse(error: MissingExtraError) -> Any:
    def handler(args: argparse.Namespace, settings: Settings) -> NoReturn:
        raise error

    return handler


def main(argv: Sequence[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else list(argv)
    try:
        parser = build_parser(command_name(words))
    except MissingExtraError as exc:
        print(f"carbonledger: {exc}", file=sys.stderr)
        return 2
    args = parser.parse_args(words)
    config_file = args.config
    if config_file is None and (env_file := _env_config()):
        config_file = env_file
    try:
        settings = load_settings(config_file)
    except CarbonLedgerError as exc:
        print(f"carbonledger: {exc}", file=sys.stderr)
        return 2
    logs.configure(settings.log_format, settings.log_level)
    return _run(args, settings)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the chosen handler; the platform's errors become a log line and an exit status."""
    try:
        status: int = args.func(args, settings)
    except CarbonLedgerError as exc:
        log.error("%s", exc)
        return 1
    except ModuleNotFoundError as exc:  # a handler that imports its extra's dependency on use
        if (error := missing_extra(COMMANDS[args.command], exc)) is None:
            raise
        log.error("%s", error)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `carbonledger … | head` closed our stdout: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return status


def _env_config() -> Path | None:
    value = os.environ.get("CARBONLEDGER_CONFIG")
    return Path(value) if value else None


if __name__ == "__main__":
    sys.exit(main())
