"""The platform's one exception tree.

    CarbonLedgerError
    ├── ConfigError            a setting or config file is wrong (names file, line, key)
    ├── WireFormatError        an MQTT payload or topic breaks the wire-format contract
    ├── RegistryError          an enterprise, gateway or meter is unknown or invalid
    ├── DatabaseUnavailableError    the database cannot be reached (retry later, lose nothing)
    ├── BrokerUnavailableError      the MQTT broker cannot be reached, refuses us or stops acking
    └── MigrationError         a schema migration failed or the schema is ahead of the code

Third-party errors (psycopg, paho) are translated where they enter, with ``raise ... from exc``,
so callers above the boundary catch these classes and never a bare ``Exception``.
"""

from __future__ import annotations


class CarbonLedgerError(Exception):
    """Root of every error the platform raises on purpose."""


class ConfigError(CarbonLedgerError):
    """A configuration value, environment variable or file is invalid."""


class WireFormatError(CarbonLedgerError):
    """A payload or topic violates wire format v1.

    ``field`` is the JSON path of the offending field (``readings[3].value``), or ``""`` for the
    payload as a whole; ``problem`` says what is wrong with it.
    """

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}" if field else problem)


class RegistryError(CarbonLedgerError):
    """A registry entry (enterprise, gateway, meter) is unknown or invalid."""


class DatabaseUnavailableError(CarbonLedgerError):
    """The database could not be reached or dropped the connection; the work can be retried."""


class BrokerUnavailableError(CarbonLedgerError):
    """The MQTT broker could not be reached, refused the connection, or stopped acknowledging.

    Raised by publishers so a run ends with one clear line instead of blocking or losing readings.
    """


class MigrationError(CarbonLedgerError):
    """A migration failed, or the database holds migrations this code does not know."""
