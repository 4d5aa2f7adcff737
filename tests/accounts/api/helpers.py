"""The API tests' world: enterprises in every consent state, a bank, keys, a server in a process."""

from __future__ import annotations

import asyncio
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from accounts.api import Role, Scope, create_key, grant_consent
from carbonledger.config import Settings, load_settings

# One enterprise per consent state of bank "bank-a" (codes follow the registry's pattern).
GRANTED = "91331102MA2A0GRT1X"


ACCOUNT_ONLY = "91331102MA2A0ACC2X"


ABSENT = "91331102MA2A0ABN3X"


REVOKED = "91331102MA2A0REW4X"


EXPIRED = "91331102MA2A0EXP5X"


UNKNOWN = "91331102MA2A0UNK6X"  # never registered


STATES = {
    "granted": GRANTED,
    "account-only": ACCOUNT_ONLY,
    "absent": ABSENT,
    "revoked": REVOKED,
    "expired": EXPIRED,
    "unknown": UNKNOWN,
}


BANK = "bank-a"
VERIFIER = "verify-a"


@dataclass(frozen=True)
class World:
    url: str
    keys: dict[str, str]  # role name -> key ("enterprise" is GRANTED's own key)
    settings: Settings


def api_settings(url: str, **api: Any) -> Settings:
    values = {"rate_per_s": 100_000.0, "burst": 100_000, "webhook_allow_private": True, **api}
    keys = {"key_dir": tempfile.mkdtemp(prefix="cl-keys-")}  # never the checkout's .state
    return load_settings(database_url=url, api=values, trust=keys)


def populate(url: str) -> dict[str, str]:
    with psycopg.connect(url) as conn:
        for index, code in enumerate(c for c in STATES.values() if c != UNKNOWN):
            conn.execute(
                "INSERT INTO enterprises (code, name, industry_code, district)"
                " VALUES (%s, %s, %s, %s)",
                (code, f"企业{index}", "3011" if index % 2 else "1713", "莲都区"),
            )
        # the verifier's body is assigned to GRANTED's 2025 (no account needs to be closed here)
        conn.execute("INSERT INTO verifiers (id, name) VALUES (%s, %s)", (VERIFIER, "核查中心"))
        conn.execute(
            "INSERT INTO verification_assignments (verifier_id, enterprise_code, year,"
            " assigned_at, assigned_by) VALUES (%s, %s, 2025, now(), 'test')",
            (VERIFIER, GRANTED),
        )

    async def keys_and_consents() -> dict[str, str]:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            keys = {
                "admin": await create_key(conn, Role.ADMIN, "ops"),
                "bureau": await create_key(conn, Role.BUREAU, "生态环境局"),
                "bank": await create_key(conn, Role.BANK, "loans", bank_id=BANK),
                "enterprise": await create_key(
                    conn, Role.ENTERPRISE, "own", enterprise_code=GRANTED
                ),
                "verifier": await create_key(conn, Role.VERIFIER, "li", verifier_id=VERIFIER),
            }
            await create_key(conn, Role.BANK, "other bank", bank_id="bank-b")
            later = datetime.now(UTC) + timedelta(days=30)
            both = [Scope.ACCOUNT, Scope.TIMESERIES]
            await grant_consent(conn, GRANTED, BANK, both, later, by="test")
            await grant_consent(conn, ACCOUNT_ONLY, BANK, [Scope.ACCOUNT], later, by="test")
            await grant_consent(conn, REVOKED, BANK, both, later, by="test")
            await conn.execute(
                "UPDATE consents SET revoked_at = now(), revoked_by = 'test'"
                " WHERE enterprise_code = %s",
                (REVOKED,),
            )
            await conn.execute(
                "INSERT INTO consents (enterprise_code, bank_id, scope, granted_at, expires_at,"
                " granted_by) VALUES (%s, %s, %s, now() - interval '2 days',"
                " now() - interval '1 day', 'test')",
                (EXPIRED, BANK, ["account", "timeseries"]),
            )
            return {role: key.key for role, key in keys.items()}

    return asyncio.run(keys_and_consents())


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@dataclass(frozen=True)
class Server:
    url: str
    proc: subprocess.Popen[bytes]
