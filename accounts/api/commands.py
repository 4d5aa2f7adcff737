"""``carbonledger api``, ``carbonledger keys …`` and ``carbonledger consent …``."""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import psycopg

from accounts.api._consent import ConsentInfo, Scope, grant_consent, list_consents, revoke_consent
from accounts.api._keys import Role, create_key, list_keys, revoke_key
from carbonledger.config import Settings, require_database_url

T = TypeVar("T")


def register(subparsers: Any) -> None:
    api = subparsers.add_parser(
        "api",
        help="serve the HTTP API (/v1, docs at /v1/docs) and deliver webhook events",
        description="Serve the HTTP API with uvicorn; the watch service (grade and quality "
        "events, webhook deliveries) runs beside it unless --no-watch.",
    )
    api.add_argument("--host", default=None, help="listen address (default: api.host)")
    api.add_argument("--port", type=int, default=None, help="port (default: api.port)")
    api.add_argument("--workers", type=int, default=None, help="processes (default: api.workers)")
    api.add_argument("--no-watch", action="store_true", help="do not run the watch service")
    api.add_argument("--watch-only", action="store_true", help="run only the watch service")
    api.set_defaults(func=_serve)

    keys = subparsers.add_parser("keys", help="API keys: create, revoke, list")
    sub = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    create = sub.add_parser("create", help="create a key and print it (shown only once)")
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.add_argument("--name", required=True, help="what the key is for")
    create.add_argument("--enterprise", metavar="CODE", help="the enterprise of an enterprise key")
    create.add_argument("--bank", metavar="ID", help="the bank of a bank key (created if new)")
    create.add_argument("--bank-name", metavar="NAME", help="the bank's name when it is new")
    create.add_argument("--verifier", metavar="ID", help="the verification body of a verifier key")
    create.add_argument("--days", type=int, default=None, help="expire after this many days")
    create.add_argument(
        "--rate", type=float, default=None, help="requests/s (default: api.rate_per_s)"
    )
    create.add_argument("--burst", type=int, default=None, help="bucket size (default: api.burst)")
    create.set_defaults(func=_keys_create)
    revoke = sub.add_parser("revoke", help="revoke a key by its id (clk_…)")
    revoke.add_argument("key_id")
    revoke.set_defaults(func=_keys_revoke)
    sub.add_parser("list", help="every key and its status").set_defaults(func=_keys_list)

    consent = subparsers.add_parser("consent", help="enterprises' consents for banks")
    csub = consent.add_subparsers(dest="consent_command", metavar="ACTION", required=True)
    grant = csub.add_parser("grant", help="let a bank read an enterprise's data")
    grant.add_argument("--enterprise", required=True, metavar="CODE")
    grant.add_argument("--bank", required=True, metavar="ID")
    grant.add_argument(
        "--scope", default="account,timeseries", help="comma-separated: account, timeseries"
    )
    grant.add_argument("--days", type=int, default=None, help="default: api.consent_days")
    grant.set_defaults(func=_consent_grant)
    crevoke = csub.add_parser("revoke", help="withdraw a bank's consent")
    crevoke.add_argument("--enterprise", required=True, metavar="CODE")
    crevoke.add_argument("--bank", required=True, metavar="ID")
    crevoke.set_defaults(func=_consent_revoke)
    clist = csub.add_parser("list", help="consents, by enterprise or bank")
    clist.add_argument("--enterprise", metavar="CODE")
    clist.add_argument("--bank", metavar="ID")
    clist.set_defaults(func=_consent_list)


def _with_conn(settings: Settings, work: Callable[[psycopg.AsyncConnection], Awaitable[T]]) -> T:
    async def main() -> T:
        url = require_database_url(settings)
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            return await work(conn)

    return asyncio.run(main())


def _keys_create(args: argparse.Namespace, settings: Settings) -> int:
    expires = datetime.now(UTC) + timedelta(days=args.days) if args.days else None
    key = _with_conn(
        settings,
        lambda conn: create_key(
            conn,
            Role(args.role),
            args.name,
            enterprise_code=args.enterprise,
            bank_id=args.bank,
            bank_name=args.bank_name,
            expires_at=expires,
            rate_per_s=args.rate,
            burst=args.burst,
            verifier_id=args.verifier,
        ),
    )
    print(f"created {key.role.value} key {key.id} ({key.name}); it is shown only this once:")
    print(key.key)
    return 0


def _keys_revoke(args: argparse.Namespace, settings: Settings) -> int:
    key = _with_conn(settings, lambda conn: revoke_key(conn, args.key_id))
    print(f"revoked {key.id} ({key.name})")
    return 0


def _keys_list(args: argparse.Namespace, settings: Settings) -> int:
    for key in _with_conn(settings, list_keys):
        subject = key.bank_id or key.enterprise_code or key.verifier_id or "-"
        expires = f"{key.expires_at:%Y-%m-%d}" if key.expires_at else "never"
        print(
            f"{key.id}  {key.role.value:<10} {key.status:<8} {subject:<18}"
            f"  expires {expires}  {key.name}"
        )
    return 0


def _print_consent(c: ConsentInfo) -> None:
    scope = ",".join(s.value for s in c.scope)
    until = f"{c.expires_at:%Y-%m-%d %H:%M %Z}"
    print(f"{c.enterprise_code}  {c.bank_id:<16} {c.status:<8} {scope:<18} until {until}")


def _consent_grant(args: argparse.Namespace, settings: Settings) -> int:
    scope = [Scope(s.strip()) for s in args.scope.split(",") if s.strip()]
    days = args.days or settings.api.consent_days
    expires = datetime.now(UTC) + timedelta(days=days)
    consent = _with_conn(
        settings,
        lambda conn: grant_consent(conn, args.enterprise, args.bank, scope, expires, by="cli"),
    )
    _print_consent(consent)
    return 0


def _consent_revoke(args: argparse.Namespace, settings: Settings) -> int:
    consent = _with_conn(
        settings, lambda conn: revoke_consent(conn, args.enterprise, args.bank, "cli")
    )
    _print_consent(consent)
    return 0


def _consent_list(args: argparse.Namespace, settings: Settings) -> int:
    consents = _with_conn(
        settings,
        lambda conn: list_consents(conn, enterprise_code=args.enterprise, bank_id=args.bank),
    )
    for consent in consents:
        _print_consent(consent)
    return 0


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn  # noqa: PLC0415 - only the server needs it

    from accounts.api._service import WatchThread, run_watch  # noqa: PLC0415
    from accounts.api._workers import serve_workers  # noqa: PLC0415
    from carbonledger.signals import stop_on_signals  # noqa: PLC0415

    require_database_url(settings)
    if args.watch_only:
        stop = stop_on_signals()

        async def main() -> None:
            event = asyncio.Event()
            task = asyncio.create_task(run_watch(settings, event))
            while not stop.is_set() and not task.done():
                await asyncio.sleep(0.2)
            event.set()
            await task

        asyncio.run(main())
        return 0
    workers = args.workers or settings.api.workers
    # the workers build their settings from the environment, like this process did
    os.environ["CARBONLEDGER_API__WORKERS"] = str(workers)
    if settings.database_url:
        os.environ["DATABASE_URL"] = settings.database_url
    if args.config:
        os.environ["CARBONLEDGER_CONFIG"] = str(args.config)
    host = args.host or settings.api.host
    port = args.port if args.port is not None else settings.api.port
    options: dict[str, Any] = {
        "app": "accounts.api.main:app_from_environment",
        "factory": True,
        "loop": "uvloop",
        "http": "httptools",
        "access_log": False,
        "log_config": None,
    }
    watch = None if args.no_watch else WatchThread(settings)
    if watch:
        watch.start()
    try:
        if workers == 1:  # in this process: no supervisor, nothing to balance
            uvicorn.run(host=host, port=port, **options)
        else:
            return serve_workers(workers, host, port, options, stop_on_signals())
    finally:
        if watch:
            watch.stop()
    return 0
