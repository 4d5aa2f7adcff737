"""``carbonledger dashboards build`` writes the dashboards' JSON; ``push`` saves them in Grafana."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from carbonledger.config import Settings
from carbonledger.errors import ConfigError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "dashboards",
        help="Grafana dashboards: write their JSON, or push them to a server",
        description="The city cockpit, enterprise drill-down, data-quality and operations "
        "dashboards, defined in dashboards/ (see docs/dashboards.md).",
    )
    actions = parser.add_subparsers(dest="dashboards_command", metavar="ACTION", required=True)
    build = actions.add_parser("build", help="write one <uid>.json per dashboard")
    build.add_argument("--out", type=Path, required=True, help="folder for the JSON files")
    build.set_defaults(func=_build)
    push = actions.add_parser(
        "push", help="save the dashboards in a Grafana folder (overwrite by uid)"
    )
    push.add_argument("--url", required=True, help="Grafana's base URL, e.g. http://grafana:3000")
    push.add_argument(
        "--token",
        default=None,
        help="service-account token (default: the GRAFANA_TOKEN environment variable)",
    )
    push.add_argument("--folder", default="carbonledger", help="folder uid (and title if created)")
    push.set_defaults(func=_push)


def _build(args: argparse.Namespace, settings: Settings) -> int:
    from dashboards._build import write_dashboards  # noqa: PLC0415 - keep the CLI start light

    for path in write_dashboards(args.out):
        print(f"wrote {path}")  # noqa: T201
    return 0


def _push(args: argparse.Namespace, settings: Settings) -> int:
    from dashboards._push import push_dashboards  # noqa: PLC0415 - grafana-client loads lazily

    token = args.token or os.environ.get("GRAFANA_TOKEN")
    if not token:
        raise ConfigError("dashboards push: give --token or set GRAFANA_TOKEN")
    for pushed in push_dashboards(
        args.url, token, folder_uid=args.folder, folder_title=args.folder
    ):
        print(f"pushed {pushed.uid} (version {pushed.version}) {pushed.url}")  # noqa: T201
    return 0
