"""The ``carbonledger`` command: one entry point, a subcommand per job.

Each feature module contributes its own subcommands through a ``register(subparsers)`` function
listed in :data:`COMMAND_MODULES`; the handler it sets receives the parsed arguments and the
validated :class:`~carbonledger.config.Settings` and returns an exit status.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from carbonledger import __version__, logs
from carbonledger.config import load_settings
from carbonledger.errors import CarbonLedgerError

# Explicit, like Telegraf's plugins/inputs/all: adding a command family is one line here.
COMMAND_MODULES = (
    "launcher.db",
    "ingest.commands",
    "simulator.commands",
    "edge.commands",
    "analytics.commands",
    "accounts.registry.commands",
    "accounts.ledger.commands",
    "accounts.api.commands",
    "trust.commands",
    "dashboards.commands",
    "launcher.demo",
)

log = logging.getLogger("carbonledger")


def build_parser() -> argparse.ArgumentParser:
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
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    config_file = args.config
    if config_file is None and (env_file := _env_config()):
        config_file = env_file
    try:
        settings = load_settings(config_file)
    except CarbonLedgerError as exc:
        print(f"carbonledger: {exc}", file=sys.stderr)
        return 2
    logs.configure(settings.log_format, settings.log_level)
    try:
        status: int = args.func(args, settings)
    except CarbonLedgerError as exc:
        log.error("%s", exc)
        return 1
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
