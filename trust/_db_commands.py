"""The database-backed ``certificate`` and ``verification`` handlers, imported only when one of
them runs (``trust.commands`` keeps ``certificate verify`` free of the ledger and the driver)."""

from __future__ import annotations

import argparse
from pathlib import Path

from accounts.ledger import Period
from carbonledger.config import Settings
from carbonledger.db.connect import command_connection
from trust import verification
from trust.certificates import issue, record_recomputes, revoked_reasons
from trust.commands import now_local, write_json
from trust.keys import open_ring
from trust.pages import certificate_page
from trust.qr import qr_file_svg, qr_png
from trust.terms import Conclusion, Severity
from trust.tokens import seal_revocations


def issue_command(args: argparse.Namespace, settings: Settings) -> int:
    now = now_local()
    ring = open_ring(settings.trust, now)
    period = Period.option(args.period)
    with command_connection(settings) as conn:
        record_recomputes(conn, now)
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


def revocations_command(args: argparse.Namespace, settings: Settings) -> int:
    now = now_local()
    ring = open_ring(settings.trust, now)
    with command_connection(settings) as conn:
        record_recomputes(conn, now)
        entries = revoked_reasons(conn)
    write_json(args.out, seal_revocations(entries, ring, now))
    print(f"{len(entries)} revoked certificates written to {args.out}")
    return 0


def verifier_command(args: argparse.Namespace, settings: Settings) -> int:
    with command_connection(settings) as conn:
        verification.register_verifier(conn, args.id, args.name)
    print(f"verifier {args.id} registered")
    return 0


def assign_command(args: argparse.Namespace, settings: Settings) -> int:
    with command_connection(settings) as conn:
        found = verification.assign(
            conn,
            args.verifier,
            args.code,
            args.year,
            by=args.by,
            now=now_local(),
            settings=settings,
        )
    print(
        f"assignment {found.id}: {found.verifier_id} verifies {found.enterprise_code} {found.year}"
    )
    return 0


def finding_command(args: argparse.Namespace, settings: Settings) -> int:
    with command_connection(settings) as conn:
        found = verification.record_finding(
            conn,
            args.assignment,
            args.verifier,
            severity=Severity(args.severity),
            figure=args.figure,
            note=args.note,
            by=args.by,
            now=now_local(),
        )
    print(f"finding {found.id} ({found.severity}, {found.figure}) recorded")
    return 0


def conclude_command(args: argparse.Namespace, settings: Settings) -> int:
    with command_connection(settings) as conn:
        statement = verification.conclude(
            conn,
            args.assignment,
            args.verifier,
            Conclusion(args.conclusion),
            args.summary,
            by=args.by,
            now=now_local(),
            settings=settings,
            adjustment=args.adjustment,
        )
    print(
        f"statement {statement.id}: {statement.conclusion} on account version"
        f" {statement.account_version}"
    )
    return 0


def withdraw_command(args: argparse.Namespace, settings: Settings) -> int:
    with command_connection(settings) as conn:
        revoked = verification.withdraw(
            conn, args.statement, args.verifier, args.reason, now=now_local()
        )
    print(f"statement {args.statement} withdrawn; {revoked} certificates revoked")
    return 0


def show_command(args: argparse.Namespace, settings: Settings) -> int:
    with command_connection(settings) as conn:
        for s in verification.statements(
            conn, args.code, args.year, settings=settings, now=now_local()
        ):
            for f in verification.findings(conn, s.assignment_id):
                print(f"finding {f.id} [{f.severity}] {f.figure}: {f.note} ({f.recorded_by})")
            print(
                f"statement {s.id}: {s.conclusion} on version {s.account_version}, {s.status}"
                f" (signed {s.signed_at:%Y-%m-%d} by {s.signed_by})"
            )
    return 0
