"""``python -m edge.agent --config gateway.toml``: the agent without the server CLI's imports.

A gateway runs only this; ``carbonledger edge run`` is the same command inside the platform CLI.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from carbonledger import logs
from carbonledger.errors import CarbonLedgerError

from ._agent import run_gateway


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edge.agent", description=__doc__)
    parser.add_argument("--config", type=Path, required=True, help="gateway TOML file")
    parser.add_argument("--log-format", choices=("text", "json"), default="text")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logs.configure(args.log_format, args.log_level)
    try:
        return run_gateway(args.config)
    except CarbonLedgerError as exc:
        logging.getLogger("edge.agent").error("%s", exc)
        return 2


if __name__ == "__main__":
    sys.exit(main())
