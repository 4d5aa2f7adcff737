"""API keys: a visible id, a random secret, only the SHA-256 of the whole key stored.

A key reads ``clk_<10 characters>.<43 characters>``: the first part is its id (shown in lists,
logs and the audit log), the whole string is the secret, shown once when created. 256 random
bits make a plain SHA-256 the right hash: there is nothing to brute-force, so a slow password
hash would only slow every request down. Keys have a role, optionally an expiry, and are
revoked rather than deleted (the audit log refers to them).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal

import psycopg
from psycopg.rows import dict_row
from pydantic import BaseModel

from carbonledger.errors import AccessError

ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


class Role(StrEnum):
    BUREAU = "bureau"
    BANK = "bank"
    ENTERPRISE = "enterprise"
    ADMIN = "admin"
    VERIFIER = "verifier"
    """A verification body's staff: sees the enterprises it is assigned to (docs/trust.md)."""


OWNERS = (Role.ENTERPRISE, Role.ADMIN)
"""Who may change an enterprise's data or consents: the enterprise itself and admins."""
OVERSIGHT = (Role.ENTERPRISE, Role.BUREAU, Role.ADMIN)
"""Who may read an enterprise's consents and audit log."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key and what it stands for."""

    key_id: str
    role: Role
    name: str
    enterprise_code: str | None
    bank_id: str | None
    rate_per_s: float | None
    burst: int | None
    verifier_id: str | None = None

    @property
    def subject(self) -> str | None:
        """The bank, enterprise or verifier the key acts for (None for bureau and admin keys)."""
        return self.bank_id or self.enterprise_code or self.verifier_id


class KeyInfo(BaseModel):
    id: str
    name: str
    role: Role
    enterprise_code: str | None
    bank_id: str | None
    verifier_id: str | None = None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    status: Literal["active", "expired", "revoked"]


class CreatedKey(KeyInfo):
    key: str
    """The secret, shown this once."""


def random_id(prefix: str, length: int = 10) -> str:
    return prefix + "".join(secrets.choice(ID_ALPHABET) for _ in range(length))


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def key_id_of(token: str) -> str | None:
    """The id part of a presented key, or None when it is not shaped like one."""
    key_id, dot, secret = token.partition(".")
    if not dot or len(key_id) != 14 or not key_id.startswith("clk_") or len(secret) < 32:
        return None
    return key_id


_KEY_COLUMNS = (
    "id, name, role, enterprise_code, bank_id, verifier_id, created_at, expires_at, revoked_at,"
    " CASE WHEN revoked_at IS NOT NULL THEN 'revoked'"
    " WHEN expires_at <= now() THEN 'expired' ELSE 'active' END AS status"
)


def _info(row: dict[str, object]) -> KeyInfo:
    code = row["enterprise_code"]
    return KeyInfo.model_validate({**row, "enterprise_code": code.strip() if code else None})  # type: ignore[attr-defined]


async def create_key(
    conn: psycopg.AsyncConnection,
    role: Role,
    name: str,
    *,
    enterprise_code: str | None = None,
    bank_id: str | None = None,
    bank_name: str | None = None,
    expires_at: datetime | None = None,
    rate_per_s: float | None = None,
    burst: int | None = None,
    verifier_id: str | None = None,
) -> CreatedKey:
    """Create a key; a bank key creates its bank on first use. The secret is returned once."""
    if (role is Role.ENTERPRISE) != (enterprise_code is not None):
        raise AccessError("an enterprise key needs --enterprise, and only an enterprise key has it")
    if (role is Role.BANK) != (bank_id is not None):
        raise AccessError("a bank key needs --bank, and only a bank key has it")
    if (role is Role.VERIFIER) != (verifier_id is not None):
        raise AccessError("a verifier key needs --verifier, and only a verifier key has it")
    key_id = random_id("clk_")
    token = f"{key_id}.{secrets.token_urlsafe(32)}"
    try:
        async with conn.transaction():
            if bank_id is not None:
                await conn.execute(
                    "INSERT INTO banks (id, name) VALUES (%s, %s) ON CONFLICT (id) DO NOTHING",
                    (bank_id, bank_name or bank_id),
                )
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                "INSERT INTO api_keys (id, secret_sha256, name, role, enterprise_code, bank_id,"
                " expires_at, rate_per_s, burst, verifier_id)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                f" RETURNING {_KEY_COLUMNS}",
                (key_id, digest(token), name, role.value, enterprise_code, bank_id, expires_at,
                 rate_per_s, burst, verifier_id),
            )  # fmt: skip
            row = await cur.fetchone()
    except psycopg.errors.ForeignKeyViolation as exc:
        what = f"verifier {verifier_id}" if verifier_id else f"enterprise {enterprise_code}"
        raise AccessError(f"unknown {what}") from exc
    except psycopg.errors.CheckViolation as exc:
        raise AccessError(f"invalid key settings: {exc.diag.constraint_name}") from exc
    assert row is not None  # noqa: S101 - RETURNING gives the row
    return CreatedKey(**_info(row).model_dump(), key=token)


async def revoke_key(conn: psycopg.AsyncConnection, key_id: str) -> KeyInfo:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "UPDATE api_keys SET revoked_at = now() WHERE id = %s AND revoked_at IS NULL"
        f" RETURNING {_KEY_COLUMNS}",
        (key_id,),
    )
    row = await cur.fetchone()
    if row is None:
        raise AccessError(f"no active key {key_id}")
    return _info(row)


async def list_keys(
    conn: psycopg.AsyncConnection, *, after: str = "", limit: int = 1_000
) -> list[KeyInfo]:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE id > %s ORDER BY id LIMIT %s", (after, limit)
    )
    return [_info(row) for row in await cur.fetchall()]


async def authenticate(conn: psycopg.AsyncConnection, token: str) -> Principal:
    """The principal of a presented key; AccessError says why a key is refused."""
    key_id = key_id_of(token)
    if key_id is None:
        raise AccessError("malformed API key")
    cur = await conn.execute(
        "SELECT secret_sha256, role, name, enterprise_code, bank_id, rate_per_s, burst,"
        " revoked_at IS NOT NULL, coalesce(expires_at <= now(), false), verifier_id"
        " FROM api_keys WHERE id = %s",
        (key_id,),
    )
    row = await cur.fetchone()
    if row is None or not hmac.compare_digest(bytes(row[0]), digest(token)):
        raise AccessError("unknown API key")
    if row[7]:
        raise AccessError(f"API key {key_id} was revoked")
    if row[8]:
        raise AccessError(f"API key {key_id} has expired")
    code = row[3].strip() if row[3] else None
    rate = float(row[5]) if row[5] is not None else None
    return Principal(key_id, Role(row[1]), row[2], code, row[4], rate, row[6], row[9])
