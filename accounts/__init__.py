"""Accounts: three rooms with one job each (docs/architecture.md, Folders).

- :mod:`accounts.registry`: master data (enterprises, sites, gateways, meters, economic data);
  the one writer of those tables.
- :mod:`accounts.ledger`: the factor library, accounts and grading; reads its inputs once, then
  computes with no connection.
- :mod:`accounts.api`: the HTTP API over both (routes hold no SQL).

The registry and the ledger do not import each other; this package imports neither.
"""
