"""The HTTP API for banks, the bureau and enterprises (docs/api.md).

``create_app(settings)`` builds the FastAPI application (``main.py``; routers in ``routes/``,
their SQL in ``queries/``, typed dependencies in ``deps.py``); ``carbonledger api`` serves it
with the watch service that delivers webhook events. Keys and consents are managed here too,
for the CLI and the demo.
"""

from accounts.api._consent import ConsentInfo, Scope, grant_consent, list_consents, revoke_consent
from accounts.api._keys import (
    CreatedKey,
    KeyInfo,
    Principal,
    Role,
    create_key,
    list_keys,
    revoke_key,
)
from accounts.api._webhooks import SIGNATURE_HEADER, sign, verify
from accounts.api.main import create_app

__all__ = [
    "SIGNATURE_HEADER",
    "ConsentInfo",
    "CreatedKey",
    "KeyInfo",
    "Principal",
    "Role",
    "Scope",
    "create_app",
    "create_key",
    "grant_consent",
    "list_consents",
    "list_keys",
    "revoke_consent",
    "revoke_key",
    "sign",
    "verify",
]
