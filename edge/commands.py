"""``carbonledger edge …``: the gateway's commands.

This module builds the ``edge`` group and its subparsers; each action registers itself on them
(``edge decode`` from :mod:`edge.decode`, ``edge run`` from :mod:`edge.agent.commands`). For
``carbonledger edge …`` the launcher imports this family alone (``launcher/families.py``), so a
gateway installed without extras runs it.
"""

from __future__ import annotations

from typing import Any

from edge import decode
from edge.agent import commands as agent_commands


def register(subparsers: Any) -> None:
    group = subparsers.add_parser(
        "edge",
        help="the gateway agent: field drivers and tools",
        description="Commands of the edge gateway.",
    )
    sub = group.add_subparsers(dest="edge_command", metavar="ACTION", required=True)
    decode.register(sub)
    agent_commands.register(sub)
