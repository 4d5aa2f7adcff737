"""One writer package per table (docs/architecture.md): SQL that writes a table lives in its owner.

Every table the migrations create has an owner here; a statement that inserts into, updates,
deletes from, copies into or truncates a table, anywhere in the platform's source, must be in
that owner's package. Other packages read through views or the owner's read functions. The
migrations themselves (the schema, reference data) are the core's and are not scanned.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# edge is left out: a gateway has no database driver and writes only its own SQLite outbox
SOURCE_PACKAGES = (
    "carbonledger",
    "simulator",
    "ingest",
    "analytics",
    "accounts",
    "dashboards",
    "launcher",
    "trust",
    "finance",
    "projects",
)
MIGRATIONS = ROOT / "carbonledger" / "db" / "migrations"

OWNERS: dict[str, str] = {
    # master data, and what enterprises submit about themselves
    "enterprises": "accounts.registry",
    "sites": "accounts.registry",
    "gateways": "accounts.registry",
    "meters": "accounts.registry",
    "economic_data": "accounts.registry",
    "measured_ncv": "accounts.registry",
    "green_power_purchases": "accounts.registry",
    # readings as they arrive, and what could not be read
    "readings": "ingest",
    "reading_changes": "ingest",
    "dead_letters": "ingest",
    "gateway_credentials": "ingest",
    # rollups and data quality
    "rollups_15m": "analytics",
    "rollup_frontiers": "analytics",
    "rollup_months": "analytics",
    "rollup_months_dirty": "analytics",
    "rollup_seal": "analytics",
    "aggregator_watermarks": "analytics",
    "quality_events": "analytics",
    # the ledger
    "factors": "accounts.ledger",
    "account_periods": "accounts.ledger",
    "factor_selection": "accounts.ledger",
    "grades": "accounts.ledger",
    # the API's own state
    "banks": "accounts.api",
    "api_keys": "accounts.api",
    "consents": "accounts.api",
    "audit_log": "accounts.api",
    "watchlist": "accounts.api",
    "watch_signals": "accounts.api",
    "webhooks": "accounts.api",
    "webhook_events": "accounts.api",
    "webhook_deliveries": "accounts.api",
    "webhook_attempts": "accounts.api",
    # trust: certificates and third-party verification
    "certificates": "trust",
    "certificate_revocations": "trust",
    "verifiers": "trust",
    "verification_assignments": "trust",
    "verification_findings": "trust",
    "verification_statements": "trust",
    # climate finance: banks' loan books
    "loans": "finance",
    "loan_figures": "finance",
    # climate projects: the project library, its meters, drivers and transitions
    "projects": "projects",
    "project_meters": "projects",
    "project_drivers": "projects",
    "project_transitions": "projects",
    "project_reductions": "projects",
    # the schema and its reference data, written by migrations only
    "schema_migrations": "carbonledger.db",
    "quantities": "carbonledger.db",
    "booking_rules": "carbonledger.db",
    "rollup_quantities": "carbonledger.db",
}

_CREATED = re.compile(r"CREATE (?:UNLOGGED )?TABLE (?:IF NOT EXISTS )?([a-z_][a-z0-9_]*)")
_TEMPORARY = re.compile(r"CREATE TEMP(?:ORARY)? TABLE (?:IF NOT EXISTS )?([a-z_][a-z0-9_]*)")
_WRITE = re.compile(
    r"\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM|TRUNCATE(?:\s+TABLE)?|COPY)\s+(?:ONLY\s+)?"
    r"([a-z_][a-z0-9_]*)(\s+SET\b|\s*(?:\([^)]*\))?\s+(?:FROM|TO)\b)?"
)


def migrated_tables() -> set[str]:
    return {m for path in MIGRATIONS.glob("*.sql") for m in _CREATED.findall(path.read_text())}


def writes(text: str) -> set[str]:
    """The tables a text writes: INSERT INTO, UPDATE, DELETE FROM, COPY ... FROM, TRUNCATE."""
    found = set()
    for match in _WRITE.finditer(text):
        keyword, tail = match.group(0).split()[0], match.group(2) or ""
        if keyword == "UPDATE" and not tail.strip().startswith("SET"):
            continue  # "ON CONFLICT DO UPDATE SET" names no table; prose "update x" is not SQL
        if keyword == "COPY" and not tail.strip().endswith("FROM"):
            continue  # COPY ... TO STDOUT reads
        found.add(match.group(1))
    return found - set(_TEMPORARY.findall(text))


def package_of(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def test_every_table_has_an_owner() -> None:
    assert migrated_tables() - OWNERS.keys() == set(), "add the new table to OWNERS"


def test_the_scan_sees_each_kind_of_write() -> None:
    text = (
        'x = "INSERT INTO meters (id) VALUES (%s)"; y = "UPDATE sites SET name = %s"\n'
        '"DELETE FROM readings WHERE"; "COPY dead_letters (topic) FROM STDIN"; "TRUNCATE grades"\n'
        '"ON CONFLICT (id) DO UPDATE SET x = 1"; "COPY (SELECT 1) TO STDOUT"\n'
        '"COPY banks TO STDOUT"; "update the meters"'
    )
    assert writes(text) == {"meters", "sites", "readings", "dead_letters", "grades"}


@pytest.mark.parametrize("package", SOURCE_PACKAGES)
def test_only_the_owner_writes_a_table(package: str) -> None:
    tables = migrated_tables()
    wrong = []
    for path in sorted((ROOT / package).rglob("*.py")):
        module = package_of(path)
        for table in sorted(writes(path.read_text()) & tables):
            owner = OWNERS[table]
            if not (module == owner or module.startswith(owner + ".")):
                wrong.append(f"{path.relative_to(ROOT)} writes {table}, owned by {owner}")
    assert wrong == []
