"""Trust: signed certificates anyone can check offline, and third-party verification.

- :mod:`trust.keys`: Ed25519 signing keys in files, rotation, the published key set;
- :mod:`trust.tokens`: canonical JSON tokens (``CL1.<payload>.<signature>``) and their offline
  check (valid, expired, revoked, forged, with the reason);
- :mod:`trust.certificates`: certificates of closed accounts, revocation, the online check;
- :mod:`trust.verification`: verifiers, assignments, findings, statements;
- :mod:`trust.qr` and :mod:`trust.pages`: the QR code and the HTML pages.

It builds on the ledger's public functions and the core; nothing here imports the launcher or
the API (the API's routes call this package).
"""

from trust.certificates import Certificate, check_online, figures_hash, issue
from trust.keys import KeyRing, PublicKeys, open_ring, published_keys, rotate
from trust.tokens import Check, Verdict, check_token

__all__ = [
    "Certificate",
    "Check",
    "KeyRing",
    "PublicKeys",
    "Verdict",
    "check_online",
    "check_token",
    "figures_hash",
    "issue",
    "open_ring",
    "published_keys",
    "rotate",
]
