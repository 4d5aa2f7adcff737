"""Accounts: registry, factor library, ledger, carbon-efficiency grading and the HTTP API.

Not built yet; the registry tables it extends are in
``carbonledger/db/migrations/0001_registry.sql``.
"""
