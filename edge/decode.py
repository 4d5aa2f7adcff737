"""``carbonledger edge decode hj212|dlt645``: captured frames on stdin, one JSON object per line.

HJ 212: one packet per line as text (the trailing CRLF optional). DL/T 645: one frame per line in
hex (spaces optional, any case). A bad frame prints ``{"error": "..."}`` naming what is wrong
(expected vs received CRC or checksum, wrong length, bad framing) and decoding goes on; blank lines
are skipped. The exit status is 0 unless stdin cannot be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from carbonledger.config import Settings
from carbonledger.errors import FrameError
from edge.drivers.dlt645 import codec as dlt645
from edge.drivers.hj212 import codec as hj212


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "decode",
        help="decode captured HJ 212 or DL/T 645 frames from stdin as JSON lines",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
    )
    parser.add_argument("protocol", choices=("hj212", "dlt645"))
    parser.add_argument(
        "--tolerate",
        type=_tolerances,
        default=hj212.Tolerance.NONE,
        metavar="LIST",
        help="hj212: accept comma-separated deviations: modbus-crc, swapped-crc, wrong-length",
    )
    parser.set_defaults(func=_decode)


def _tolerances(text: str) -> hj212.Tolerance:
    try:
        return hj212.parse_tolerances([t for t in text.split(",") if t.strip()])
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def decode_hj212(line: bytes, tolerances: hj212.Tolerance = hj212.Tolerance.NONE) -> dict[str, Any]:
    return hj212.decode(line.strip(b" \t\r\n"), tolerances).as_json()


def decode_dlt645(line: bytes) -> dict[str, Any]:
    text = "".join(line.decode("ascii", "replace").split())
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise FrameError(f"not hex: {text[:40]!r}") from None
    return dlt645.decode(raw).as_json()


def decode_lines(
    lines: Iterable[bytes], decoder: Callable[[bytes], dict[str, Any]]
) -> Iterator[str]:
    """One JSON text per non-blank line: the decoded frame or ``{"error": ...}``."""
    for line in lines:
        if not line.strip():
            continue
        try:
            doc = decoder(line)
        except FrameError as exc:
            doc = {"error": str(exc)}
        yield json.dumps(doc, ensure_ascii=False)


def _decode(args: argparse.Namespace, settings: Settings) -> int:
    tolerances = args.tolerate

    def hj212_line(line: bytes) -> dict[str, Any]:
        return decode_hj212(line, tolerances)

    decoder = hj212_line if args.protocol == "hj212" else decode_dlt645
    try:
        for text in decode_lines(sys.stdin.buffer, decoder):
            print(text, flush=True)  # noqa: T201 - the command's output
    except OSError as exc:
        print(f"carbonledger: cannot read stdin: {exc}", file=sys.stderr)  # noqa: T201
        return 1
    return 0
