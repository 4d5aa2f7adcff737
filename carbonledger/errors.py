"""The platform's one exception tree.

    CarbonLedgerError
    ├── ConfigError               a setting or config file is wrong (names file, line, key)
    ├── WireFormatError           an MQTT payload or topic breaks the wire-format contract
    ├── RegistryError             an enterprise, gateway or meter is unknown or invalid
    │   └── UnknownEnterpriseError  no enterprise is registered under this credit code
    ├── InvalidImportError        an import file has bad records (each named by line and field);
    │                             nothing of the file was applied
    ├── AccessError               an API key, bank or consent is unknown, revoked or not allowed
    ├── DatabaseUnavailableError  the database cannot be reached (retry later, lose nothing)
    ├── BrokerUnavailableError    the MQTT broker cannot be reached, refuses us or stops acking
    ├── OutboxError               the edge agent's durable outbox cannot be opened, read, written
    │   └── OutboxFullError       the outbox reached its quota and the policy refuses new rows
    ├── MigrationError            a schema migration failed or the schema is ahead of the code
    ├── FrameError                a field-device frame (HJ 212, DL/T 645) cannot be decoded
    │   ├── FramingError          bad start/end markers, truncated, too long, unparseable fields
    │   ├── LengthError           the declared length disagrees with the data
    │   └── ChecksumError         CRC or checksum mismatch (names expected and received values)
    ├── DeviceError               a field device did not answer, refused a request, or its link
    │                             failed
    ├── AccountsError             an account cannot be produced, closed or recomputed as asked
    ├── TrustError                a certificate, signing key or verification step is refused
    └── GrafanaError              a Grafana server could not be reached or refused a request

Third-party errors (psycopg, paho, pymodbus, serial, grafana-client) are translated where they
enter, with ``raise ... from exc``, so callers above the boundary catch these classes and never
a bare ``Exception``.
"""

from __future__ import annotations


class CarbonLedgerError(Exception):
    """Root of every error the platform raises on purpose."""


class ConfigError(CarbonLedgerError):
    """A configuration value, environment variable or file is invalid."""


class PortUnavailableError(ConfigError):
    """A service's host:port cannot be bound: in use, or not an address of this host."""


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


class InvalidImportError(CarbonLedgerError):
    """An import file (registry, economic data, readings) has records that fail validation.

    ``problems`` holds one ``file:line: field: problem`` line per fault, all of them (a huge file
    keeps the first thousand and counts the rest in ``more``), so a clerk can fix the whole file
    in one go. The import that raises it has changed nothing.
    """

    def __init__(self, path: str, problems: list[str], more: int = 0, lines: int = 0) -> None:
        self.path = path
        self.problems = problems
        self.more = more
        count = len(problems) + more
        where = f" on {lines} line{'s' if lines != 1 else ''}" if lines else ""
        head = f"{path}: {count} problem{'s' if count != 1 else ''}{where}; nothing was imported"
        tail = [f"... and {more} more"] if more else []
        super().__init__("\n  ".join([head + ":", *problems, *tail]))


class AccessError(CarbonLedgerError):
    """An API key, bank or consent is unknown, revoked, expired, or does not allow the request."""


class DatabaseUnavailableError(CarbonLedgerError):
    """The database could not be reached or dropped the connection; the work can be retried."""


class BrokerUnavailableError(CarbonLedgerError):
    """The MQTT broker could not be reached, refused the connection, or stopped acknowledging.

    Raised by publishers so a run ends with one clear line instead of blocking or losing readings.
    """


class OutboxError(CarbonLedgerError):
    """The edge agent's durable outbox (SQLite) failed: it cannot be opened, read or written."""


class OutboxFullError(OutboxError):
    """The outbox is at its disk quota and its policy (``refuse-new``) refused the new readings.

    ``refused`` is how many readings were turned away; the caller counts and logs them.
    """

    def __init__(self, refused: int, used_bytes: int, quota_bytes: int) -> None:
        self.refused = refused
        self.used_bytes = used_bytes
        self.quota_bytes = quota_bytes
        super().__init__(
            f"outbox full ({used_bytes} of {quota_bytes} bytes): refused {refused} readings"
        )


class MigrationError(CarbonLedgerError):
    """A migration failed, or the database holds migrations this code does not know."""


class FrameError(CarbonLedgerError):
    """Bytes from a field device do not form a valid frame; the codecs raise only this branch."""


class FramingError(FrameError):
    """Start or end markers are missing, the frame is truncated or too long, or a field is bad."""


class LengthError(FrameError):
    """The length a frame declares differs from the length of the data it carries."""


class ChecksumError(FrameError):
    """A CRC or checksum does not match: ``expected`` is computed, ``got`` is what was received."""

    def __init__(self, what: str, expected: str, got: str) -> None:
        self.expected = expected
        self.got = got
        super().__init__(f"{what} mismatch: expected {expected}, got {got}")


class DeviceError(CarbonLedgerError):
    """A field device did not answer in time, answered with an error, or its link failed.

    Drivers log it and retry on the next interval: one broken meter never stops the gateway.
    """


class AccountsError(CarbonLedgerError):
    """An account cannot be produced, closed or recomputed as asked (a period not over yet, no
    factor in the library for a carrier, a recompute of a month that is not closed)."""


class TrustError(CarbonLedgerError):
    """A certificate cannot be issued, a signing key cannot be read or written, or a
    verification step is not allowed in the statement's current state (docs/trust.md)."""


class UnknownEnterpriseError(RegistryError):
    """No enterprise with this unified social credit code is registered."""

    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(f"unknown enterprise {code!r}")


class GrafanaError(CarbonLedgerError):
    """A Grafana server could not be reached, refused the token, or rejected a dashboard.

    ``status`` is the HTTP status Grafana answered with, or ``None`` when there was no answer.
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)
