"""``carbonledger certificate …`` and ``carbonledger verification …`` (docs/trust.md)."""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

from accounts.ledger import Period
from carbonledger.config import Settings, require_database_url
from carbonledger.db.connect import connect
from carbonledger.errors import ConfigError, TrustError
from carbonledger.tz import SHANGHAI
from trust import verification
from trust.certificates import issue, record_recomputes, revoked_reasons
from trust.keys import PublicKeys, open_ring, published_keys, rotate
from trust.pages import certificate_page
from trust.qr import qr_file_svg, qr_png
from trust.tokens import Verdict, check_token, read_revocations, seal_revocations


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
    p.set_defaults(func=_issue)
    p = sub.add_parser("verify", help="check a token offline: no database, no network")
    p.add_argument("token", metavar="TOKEN|FILE", help="the token, or a file holding it")
    p.add_argument("--keys", type=Path, default=None, help="published key set (default: own keys)")
    p.add_argument("--revocations", type=Path, default=None, help="signed revocation list file")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_verify)
    p = sub.add_parser("revocations", help="record recomputes, write the signed revocation list")
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(func=_revocations)
    keys = sub.add_parser("keys", help="signing keys: rotate, export the public key set")
    ksub = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    ksub.add_parser("rotate", help="a new signing key; old keys still verify").set_defaults(
        func=_rotate
    )
    p = ksub.add_parser("export", help="write the public key set a bank keeps")
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(func=_export)
    _register_verification(subparsers)


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
    p.set_defaults(func=_verifier)
    p = sub.add_parser("assign", help="assign a verifier to an enterprise-year (bureau)")
    p.add_argument("code", metavar="CODE")
    p.add_argument("--year", type=int, required=True)
    p.add_argument("--verifier", required=True)
    p.add_argument("--by", required=True, help="who assigns (recorded)")
    p.set_defaults(func=_assign)
    p = sub.add_parser("finding", help="record a finding (verifier)")
    p.add_argument("assignment", type=int, metavar="ASSIGNMENT")
    p.add_argument("--verifier", required=True)
    p.add_argument("--severity", choices=[s.value for s in verification.Severity], required=True)
    p.add_argument("--figure", required=True, help="the figure concerned, e.g. totals.scope1")
    p.add_argument("--note", required=True)
    p.add_argument("--by", required=True, help="the verifier's staff member (recorded)")
    p.set_defaults(func=_finding)
    p = sub.add_parser("conclude", help="sign off the verification (verifier)")
    p.add_argument("assignment", type=int, metavar="ASSIGNMENT")
    p.add_argument("--verifier", required=True)
    p.add_argument(
        "--conclusion", choices=[c.value for c in verification.Conclusion], required=True
    )
    p.add_argument("--summary", required=True)
    p.add_argument("--adjustment", default=None, help="reason of the recompute (with adjustments)")
    p.add_argument("--by", required=True)
    p.set_defaults(func=_conclude)
    p = sub.add_parser("withdraw", help="withdraw a statement; revokes its certificates")
    p.add_argument("statement", type=int, metavar="STATEMENT")
    p.add_argument("--verifier", required=True)
    p.add_argument("--reason", required=True)
    p.set_defaults(func=_withdraw)
    p = sub.add_parser("show", help="assignment, findings and statements of an enterprise-year")
    p.add_argument("code", metavar="CODE")
    p.add_argument("--year", type=int, required=True)
    p.set_defaults(func=_show)


def _now() -> datetime:
    return datetime.now(SHANGHAI)


def _connect(settings: Settings) -> psycopg.Connection[Any]:
    return connect(require_database_url(settings), autocommit=True)


def _period(text: str) -> Period:
    try:
        return Period.parse(text)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


def _issue(args: argparse.Namespace, settings: Settings) -> int:
    now = _now()
    ring = open_ring(settings.trust, now)
    period = _period(args.period)
    with _connect(settings) as conn:
        record_recomputes(conn, settings, now)
        certificates = [
            issue(conn, code, period, ring, settings, now=now, days=args.days)
            for code in args.codes
        ]
    base = settings.trust.public_url
    for cert in certificates:
        code, label = cert.payload["enterprise"]["code"], cert.payload["period"]["label"]
        if args.out_dir is None:
            print(f"certificate {cert.id} for {code} {label}")
            print(f"verify: {base}/verify?token={cert.token}")
            print(cert.token)
            continue
        out: Path = args.out_dir
        out.mkdir(parents=True, exist_ok=True)
        (out / f"{cert.id}.token").write_text(cert.token + "\n", encoding="utf-8")
        (out / f"{cert.id}.png").write_bytes(qr_png(cert.token))
        (out / f"{cert.id}.svg").write_bytes(qr_file_svg(cert.token))
        page = certificate_page(cert.token, cert.payload, f"{base}/verify")
        (out / f"{cert.id}.html").write_text(page, encoding="utf-8")
        print(f"certificate {cert.id} for {code} {label}: {out}/{cert.id}.{{token,png,svg,html}}")
    return 0


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


def _revocations(args: argparse.Namespace, settings: Settings) -> int:
    now = _now()
    ring = open_ring(settings.trust, now)
    with _connect(settings) as conn:
        record_recomputes(conn, settings, now)
        entries = revoked_reasons(conn, settings, now)
    _write_json(args.out, seal_revocations(entries, ring, now))
    print(f"{len(entries)} revoked certificates written to {args.out}")
    return 0


def _rotate(args: argparse.Namespace, settings: Settings) -> int:
    ring = rotate(settings.trust, _now())
    print(f"signing key is now {ring.active}; export the key set again for the banks")
    return 0


def _export(args: argparse.Namespace, settings: Settings) -> int:
    ring = open_ring(settings.trust, _now())
    _write_json(args.out, ring.public.as_json())
    print(f"{len(ring.public.keys)} public keys of {ring.public.deployment} written to {args.out}")
    return 0


def _write_json(path: Path, value: Any) -> None:
    try:
        path.write_text(json.dumps(value, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise TrustError(f"cannot write {path}: {exc}") from exc


def _verifier(args: argparse.Namespace, settings: Settings) -> int:
    with _connect(settings) as conn:
        verification.register_verifier(conn, args.id, args.name)
    print(f"verifier {args.id} registered")
    return 0


def _assign(args: argparse.Namespace, settings: Settings) -> int:
    with _connect(settings) as conn:
        found = verification.assign(
            conn, args.verifier, args.code, args.year, by=args.by, now=_now(), settings=settings
        )
    print(
        f"assignment {found.id}: {found.verifier_id} verifies {found.enterprise_code} {found.year}"
    )
    return 0


def _finding(args: argparse.Namespace, settings: Settings) -> int:
    with _connect(settings) as conn:
        found = verification.record_finding(
            conn,
            args.assignment,
            args.verifier,
            severity=verification.Severity(args.severity),
            figure=args.figure,
            note=args.note,
            by=args.by,
            now=_now(),
        )
    print(f"finding {found.id} ({found.severity}, {found.figure}) recorded")
    return 0


def _conclude(args: argparse.Namespace, settings: Settings) -> int:
    with _connect(settings) as conn:
        statement = verification.conclude(
            conn,
            args.assignment,
            args.verifier,
            verification.Conclusion(args.conclusion),
            args.summary,
            by=args.by,
            now=_now(),
            settings=settings,
            adjustment=args.adjustment,
        )
    print(
        f"statement {statement.id}: {statement.conclusion} on account version"
        f" {statement.account_version}"
    )
    return 0


def _withdraw(args: argparse.Namespace, settings: Settings) -> int:
    with _connect(settings) as conn:
        revoked = verification.withdraw(
            conn, args.statement, args.verifier, args.reason, now=_now()
        )
    print(f"statement {args.statement} withdrawn; {revoked} certificates revoked")
    return 0


def _show(args: argparse.Namespace, settings: Settings) -> int:
    with _connect(settings) as conn:
        for s in verification.statements(conn, args.code, args.year, settings=settings, now=_now()):
            for f in verification.findings(conn, s.assignment_id):
                print(f"finding {f.id} [{f.severity}] {f.figure}: {f.note} ({f.recorded_by})")
            print(
                f"statement {s.id}: {s.conclusion} on version {s.account_version}, {s.status}"
                f" (signed {s.signed_at:%Y-%m-%d} by {s.signed_by})"
            )
    return 0
