"""Signing keys: Ed25519 key pairs in files, named by a short hash of the public key.

``trust.key_dir`` holds one ``<key id>.pem`` per private key (PKCS #8, mode 0600, the folder
0700) and ``ring.json`` (public: the deployment id, the active key, every public key with when
it was created and, once rotated out, retired). The key id is the first 16 hex digits of the
SHA-256 of the raw 32-byte public key, so anyone can recompute it from the key itself.

Rotation makes a new key the signer and retires the old one: it stays in the ring and in the
exported key set, so what it signed before its retirement still verifies; a token it signs
after that is refused. The public part is :class:`PublicKeys`, what a bank keeps
(``carbonledger certificate keys export``) and what ``/.well-known/carbonledger-keys.json``
serves.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from carbonledger.config import TrustSettings
from carbonledger.errors import TrustError
from trust._canonical import b64url, unb64url

KEYS_FORMAT = "carbonledger-keys/1"
_RING = "ring.json"


def key_id(public: bytes) -> str:
    """The id of a raw Ed25519 public key: 16 hex digits of its SHA-256."""
    return hashlib.sha256(public).hexdigest()[:16]


@dataclass(frozen=True)
class PublicKey:
    kid: str
    raw: bytes
    created_at: datetime
    retired_at: datetime | None = None

    def verifies(self, signature: bytes, data: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.raw).verify(signature, data)
        except InvalidSignature:
            return False
        return True

    def as_json(self) -> dict[str, Any]:
        return {
            "kid": self.kid,
            "alg": "Ed25519",
            "public_key": b64url(self.raw),
            "created_at": self.created_at.isoformat(),
            "retired_at": self.retired_at.isoformat() if self.retired_at else None,
        }


@dataclass(frozen=True)
class PublicKeys:
    """A deployment's published key set: everything an offline verifier needs."""

    deployment: str
    keys: dict[str, PublicKey]

    def as_json(self) -> dict[str, Any]:
        return {
            "format": KEYS_FORMAT,
            "deployment": self.deployment,
            "keys": [k.as_json() for k in sorted(self.keys.values(), key=lambda k: k.created_at)],
        }

    @classmethod
    def from_json(cls, data: Any) -> PublicKeys:
        """Read a key set; TrustError names what is wrong with it."""
        try:
            if data["format"] != KEYS_FORMAT:
                raise TrustError(f"not a {KEYS_FORMAT} key set: format {data['format']!r}")
            keys = {}
            for entry in data["keys"]:
                raw = unb64url(entry["public_key"])
                if entry["alg"] != "Ed25519" or len(raw) != 32 or key_id(raw) != entry["kid"]:
                    raise TrustError(f"key {entry['kid']}: not an Ed25519 key with that id")
                retired = entry.get("retired_at")
                keys[entry["kid"]] = PublicKey(
                    entry["kid"],
                    raw,
                    datetime.fromisoformat(entry["created_at"]),
                    datetime.fromisoformat(retired) if retired else None,
                )
            return cls(str(data["deployment"]), keys)
        except (KeyError, TypeError, ValueError) as exc:
            raise TrustError(f"bad key set: {exc!r}") from exc

    @classmethod
    def load(cls, path: Path) -> PublicKeys:
        try:
            return cls.from_json(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError) as exc:
            raise TrustError(f"cannot read the key set {path}: {exc}") from exc


@dataclass(frozen=True)
class KeyRing:
    """The private side: the key folder of this deployment."""

    folder: Path
    public: PublicKeys
    active: str

    def sign(self, data: bytes) -> tuple[str, bytes]:
        """(key id, Ed25519 signature of ``data``) with the active key."""
        return self.active, self._private(self.active).sign(data)

    def _private(self, kid: str) -> Ed25519PrivateKey:
        path = self.folder / f"{kid}.pem"
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (OSError, ValueError) as exc:
            raise TrustError(f"cannot read the signing key {path}: {exc}") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise TrustError(f"{path} is not an Ed25519 private key")
        return key


def published_keys(settings: TrustSettings) -> PublicKeys | None:
    """The public key set of this deployment, or None before its first key (never creates one:
    for readers such as the public pages and the offline check)."""
    if not (settings.key_dir / _RING).exists():
        return None
    return open_ring(settings, datetime.now(UTC)).public


def open_ring(settings: TrustSettings, now: datetime) -> KeyRing:
    """The deployment's key ring, created with a first key when the folder has none."""
    folder = settings.key_dir
    ring_file = folder / _RING
    if not ring_file.exists():
        deployment = settings.deployment_id or f"cl-{secrets.token_hex(5)}"
        return _add_key(KeyRing(folder, PublicKeys(deployment, {}), ""), now)
    try:
        data = json.loads(ring_file.read_text(encoding="utf-8"))
        ring = KeyRing(folder, PublicKeys.from_json(data["public"]), str(data["active"]))
    except (OSError, KeyError, TypeError, json.JSONDecodeError) as exc:
        raise TrustError(f"cannot read {ring_file}: {exc!r}") from exc
    wanted = settings.deployment_id
    if wanted and wanted != ring.public.deployment:
        raise TrustError(
            f"{folder} holds the keys of deployment {ring.public.deployment},"
            f" but trust.deployment_id is {wanted}"
        )
    return ring


def rotate(settings: TrustSettings, now: datetime) -> KeyRing:
    """A new active key; the old one is retired now and kept for verification."""
    ring = open_ring(settings, now)
    old = ring.public.keys[ring.active]
    keys = {**ring.public.keys, old.kid: replace(old, retired_at=now)}
    return _add_key(replace(ring, public=PublicKeys(ring.public.deployment, keys)), now)


def _add_key(ring: KeyRing, now: datetime) -> KeyRing:
    private = Ed25519PrivateKey.generate()
    raw = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    kid = key_id(raw)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    try:
        ring.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(ring.folder / f"{kid}.pem", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
        keys = {**ring.public.keys, kid: PublicKey(kid, raw, now)}
        new = KeyRing(ring.folder, PublicKeys(ring.public.deployment, keys), kid)
        tmp = ring.folder / f"{_RING}.tmp"
        tmp.write_text(
            json.dumps({"active": kid, "public": new.public.as_json()}, indent=2), encoding="utf-8"
        )
        tmp.replace(ring.folder / _RING)
    except OSError as exc:
        raise TrustError(f"cannot write a key into {ring.folder}: {exc}") from exc
    return new
