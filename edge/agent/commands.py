"""``carbonledger edge run``: registered on the ``edge`` group by :mod:`edge.commands`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from carbonledger.config import Settings
from edge.agent import run_gateway


def register(sub: Any) -> None:
    run = sub.add_parser(
        "run",
        help="run the gateway agent: drivers → durable outbox → MQTT (QoS 1)",
        description="Poll the configured devices, store every reading in the SQLite outbox and "
        "publish it in wire-format batches; SIGTERM/SIGINT stop cleanly. The config is "
        "validated before anything connects (see edge/agent/sample-gateway.toml).",
    )
    # dest differs from the top-level --config (the platform settings file) on purpose
    run.add_argument(
        "--config", dest="gateway_config", type=Path, required=True, help="gateway TOML file"
    )
    run.set_defaults(func=_run)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    del settings  # the gateway's own config file holds everything the agent needs
    return run_gateway(args.gateway_config)
