"""Which module registers each top-level command, and which extra its dependencies come from.

Explicit, like Telegraf's ``plugins/inputs/all``: adding a command family is one line per command
name here. The launcher imports only the family of the command on the command line, so
``carbonledger edge …`` on a gateway (the base install, no extras) never imports a database
driver, Numba or a web framework. A family whose extra is not installed is reported by name
instead of failing with a bare ``ModuleNotFoundError``.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import NamedTuple

from carbonledger.errors import ConfigError

SERVER = "server"
DEMO = "demo"
TRUST = "trust"


class Family(NamedTuple):
    """A command family: the module with its ``register(subparsers)``, and what it needs."""

    module: str
    extra: str | None  # None: the base distribution (a gateway) runs it


COMMANDS: dict[str, Family] = {
    "db": Family("launcher.db", SERVER),
    "ingest": Family("ingest.commands", SERVER),
    "broker": Family("ingest.commands", SERVER),
    "readings": Family("ingest.commands", SERVER),
    "simulate": Family("simulator.commands", SERVER),
    "edge": Family("edge.commands", None),
    "aggregate": Family("analytics.commands", SERVER),
    "registry": Family("accounts.registry.commands", SERVER),
    "economics": Family("accounts.registry.commands", SERVER),
    "accounts": Family("accounts.ledger.commands", SERVER),
    "api": Family("accounts.api.commands", SERVER),
    "keys": Family("accounts.api.commands", SERVER),
    "consent": Family("accounts.api.commands", SERVER),
    "certificate": Family("trust.commands", TRUST),
    "verification": Family("trust.commands", TRUST),
    "dashboards": Family("dashboards.commands", SERVER),
    "finance": Family("finance.commands", SERVER),
    "projects": Family("projects.commands", SERVER),
    "demo": Family("launcher.demo", DEMO),
}

# The distribution's own top-level packages: a missing one is a broken install, not an extra.
OWN_PACKAGES = frozenset({"carbonledger", *(f.module.split(".")[0] for f in COMMANDS.values())})


class MissingExtraError(ConfigError):
    """A command needs a dependency from an extra that is not installed."""

    def __init__(self, commands: list[str], extra: str, module: str) -> None:
        self.commands = commands
        self.extra = extra
        self.module = module
        super().__init__(
            f"{', '.join(commands)}: needs `pip install 'carbonledger[{extra}]'` "
            f"(module {module} is not installed)"
        )


def families() -> list[Family]:
    """Every family once, in the order of :data:`COMMANDS` (the order ``--help`` lists them)."""
    return list(dict.fromkeys(COMMANDS.values()))


def commands_of(family: Family) -> list[str]:
    """The top-level command names that ``family`` registers."""
    return [name for name, owner in COMMANDS.items() if owner == family]


def missing_extra(family: Family, exc: ModuleNotFoundError) -> MissingExtraError | None:
    """The error to report when ``exc`` is a dependency of ``family``'s extra, else None."""
    missing = (exc.name or "").split(".")[0]
    if family.extra is None or not missing or missing in OWN_PACKAGES:
        return None
    return MissingExtraError(commands_of(family), family.extra, missing)


def load(family: Family) -> ModuleType:
    """Import ``family``'s module; MissingExtraError if its extra is not installed."""
    try:
        return importlib.import_module(family.module)
    except ModuleNotFoundError as exc:
        if (error := missing_extra(family, exc)) is not None:
            raise error from exc
        raise
