"""Trust: signed certificates anyone can check offline, and third-party verification.

- :mod:`trust.keys`: Ed25519 signing keys in files, rotation, the published key set;
- :mod:`trust.tokens`: canonical JSON tokens (``CL1.<payload>.<signature>``) and their offline
  check (valid, expired, revoked, forged, with the reason);
- :mod:`trust.certificates`: certificates of closed accounts, revocation, the online check;
- :mod:`trust.verification`: verifiers, assignments, findings, statements;
- :mod:`trust.qr` and :mod:`trust.pages`: the QR code and the HTML pages.

It builds on the ledger's public functions and the core; nothing here imports the launcher or
the API (the API's routes call this package). The package itself re-exports only the offline
side (keys and tokens: no database driver, no ledger), so a bank's ``certificate verify``
starts quickly; import :mod:`trust.certificates` and :mod:`trust.verification` by name.
"""

from trust.keys import KeyRing, PublicKeys, open_ring, published_keys, rotate
from trust.tokens import Check, Verdict, check_token

__all__ = [
    "Check",
    "KeyRing",
    "PublicKeys",
    "Verdict",
    "check_token",
    "open_ring",
    "published_keys",
    "rotate",
]
