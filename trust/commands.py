"""``carbonledger certificate …`` and ``carbonledger verification …`` (docs/trust.md).

The offline commands (``verify``, ``keys``) are here; the ones that need the database are in
:mod:`trust._db_commands`, imported only when they run, so a bank's ``certificate verify``
loads no database driver and no ledger.
"""

from __future__ import annotations

import argparse
import importlib
import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from carbonledger.config import Settings
from carbonledger.errors import TrustError
from carbonledger.tz import SHANGHAI
from trust.keys import PublicKeys, open_ring, published_keys, rotate
from trust.terms import Conclusion, Severity
from trust.tokens import Verdict, check_token, read_revocations

Handler = Callable[[argparse.Namespace, Settings], int]


def register(subparsers: Any) -> None:
    cert = subparsers.add_parser(
        "certificate",
        help="signed certificates of closed accounts: issue, verify, keys, revocations",
        description="Signed carbon-efficiency certificates (docs/trust.md).",
    )
    sub = cert.add_subparsers(dest="certificate_command", metavar="ACTION", required=True)
    p = sub.add_parser("issue", help="sign certificates of a closed month or year")
    p.add_argument("codes", nargs="+", metavar="CODE", help="unified social credit codes")
    p.add_argument("--period", required=True, help="YYYY-MM or YYYY (closed)")
    p.add_argument(
        "--days", type=int, default=None, help="lifetime (default trust.certificate_days)"
    )
    p.add_argument("--out-dir", type=Path, default=None, help="write ID.token, .png, .svg, .html")
    p.set_defaults(func=_deferred("issue_command"))
    p = sub.add_parser("verify", help="check a token offline: no database, no network")
    p.add_argument("token", metavar="TOKEN|FILE", help="the token, or a file holding it")
    p.add_argument("--keys", type=Path, default=None, help="published key set (default: own keys)")
    p.add_argument("--revocations", type=Path, default=None, help="signed revocation list file")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_verify)
    p = sub.add_parser("revocations", help="record recomputes, write the signed revocation list")
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(func=_deferred("revocations_command"))
    keys = sub.add_parser("keys", help="signing keys: rotate, export the public key set")
    ksub = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    ksub.add_parser("rotate", help="a new signing key; old keys still verify").set_defaults(
        func=_rotate
    )
    p = ksub.add_parser("export", help="write the public key set a bank keeps")
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(func=_export)
    _register_verification(subparsers)


def _deferred(name: str) -> Handler:
    """A handler of :mod:`trust._db_commands`, imported when it runs."""

    def run(args: argparse.Namespace, settings: Settings) -> int:
        handler: Handler = getattr(importlib.import_module("trust._db_commands"), name)
        return handler(args, settings)

    return run


def _register_verification(subparsers: Any) -> None:
    ver = subparsers.add_parser(
        "verification",
        help="third-party verification of annual accounts",
        description="Verifiers, assignments, findings and statements (docs/trust.md).",
    )
    sub = ver.add_subparsers(dest="verification_command", metavar="ACTION", required=True)
    p = sub.add_parser("verifier", help="register a verification body (bureau)")
    p.add_argument("id", metavar="ID")
    p.add_argument("--name", required=True)
    p.set_defaults(func=_deferred("verifier_command"))
    p = sub.add_parser("assign", help="assign a verifier to an enterprise-year (bureau)")
    p.add_argument("code", metavar="CODE")
    p.add_argument("--year", type=int, required=True)
    p.add_argument("--verifier", required=True)
    p.add_argument("--by", required=True, help="who assigns (recorded)")
    p.set_defaults(func=_deferred("assign_command"))
    p = sub.add_parser("finding", help="record a finding (verifier)")
    p.add_argument("assignment", type=int, metavar="ASSIGNMENT")
    p.add_argument("--verifier", required=True)
    p.add_argument("--severity", choices=[s.value for s in Severity], required=True)
    p.add_argument("--figure", required=True, help="the figure concerned, e.g. totals.scope1")
    p.add_argument("--note", required=True)
    p.add_argument("--by", required=True, help="the verifier's staff member (recorded)")
    p.set_defaults(func=_deferred("finding_command"))
    p = sub.add_parser("conclude", help="sign off the verification (verifier)")
    p.add_argument("assignment", type=int, metavar="ASSIGNMENT")
    p.add_argument("--verifier", required=True)
    p.add_argument("--conclusion", choices=[c.value for c in Conclusion], required=True)
    p.add_argument("--summary", required=True)
    p.add_argument("--adjustment", default=None, help="reason of the recompute (with adjustments)")
    p.add_argument("--by", required=True)
    p.set_defaults(func=_deferred("conclude_command"))
    p = sub.add_parser("withdraw", help="withdraw a statement; revokes its certificates")
    p.add_argument("statement", type=int, metavar="STATEMENT")
    p.add_argument("--verifier", required=True)
    p.add_argument("--reason", required=True)
    p.set_defaults(func=_deferred("withdraw_command"))
    p = sub.add_parser("show", help="assignment, findings and statements of an enterprise-year")
    p.add_argument("code", metavar="CODE")
    p.add_argument("--year", type=int, required=True)
    p.set_defaults(func=_deferred("show_command"))


def now_local() -> datetime:
    return datetime.now(SHANGHAI)


def _verify(args: argparse.Namespace, settings: Settings) -> int:
    """Offline: the key set from --keys (or this deployment's own), no database."""
    text = args.token
    if not text.startswith("CL1.") and Path(text).is_file():
        text = Path(text).read_text(encoding="utf-8").strip()
    keys = PublicKeys.load(args.keys) if args.keys else published_keys(settings.trust)
    if keys is None:
        raise TrustError(f"no key set: pass --keys FILE (no keys in {settings.trust.key_dir})")
    revoked = read_revocations(args.revocations, keys) if args.revocations else None
    result = check_token(text, keys, revoked=revoked)
    if args.json:
        print(json.dumps(result.as_json(), ensure_ascii=False, indent=2))
    else:
        print(f"{result.verdict.value.upper()}: {result.reason}")
        if result.certificate is not None and result.verdict is not Verdict.FORGED:
            c = result.certificate
            print(
                f"  {c['enterprise']['name']} ({c['enterprise']['code']}), {c['period']['label']}"
            )
            print(f"  grade {c['level'] or ''}{c['grade']}, colour {c['colour']}, L {c['l']}")
    return 0 if result.verdict is Verdict.VALID else 1


def _rotate(args: argparse.Namespace, settings: Settings) -> int:
    ring = rotate(settings.trust, now_local())
    print(f"signing key is now {ring.active}; export the key set again for the banks")
    return 0


def _export(args: argparse.Namespace, settings: Settings) -> int:
    ring = open_ring(settings.trust, now_local())
    write_json(args.out, ring.public.as_json())
    print(f"{len(ring.public.keys)} public keys of {ring.public.deployment} written to {args.out}")
    return 0


def write_json(path: Path, value: Any) -> None:
    try:
        path.write_text(json.dumps(value, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise TrustError(f"cannot write {path}: {exc}") from exc
