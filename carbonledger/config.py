"""Settings: environment variables over an optional TOML file over defaults, validated once.

Every service reads one :class:`Settings`. ``DATABASE_URL`` and ``MQTT_URL`` keep their
conventional names; everything else is ``CARBONLEDGER_*`` (nested with ``__``, e.g.
``CARBONLEDGER_INGEST__BATCH_SIZE``) or a key in the file named by ``--config`` or
``CARBONLEDGER_CONFIG``. A bad file is reported with its path, the line and the problem.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from carbonledger.errors import ConfigError
from carbonledger.tomlfile import describe, read_toml
from carbonledger.wire import DEFAULT_TOPIC_ROOT


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IngestSettings(_Section):
    batch_size: int = Field(5_000, ge=1, le=200_000, description="readings per COPY")
    max_delay_ms: int = Field(200, ge=1, le=60_000, description="oldest reading's wait")
    receive_maximum: int = Field(
        1_000, ge=1, le=65_535, description="unacknowledged messages the broker may send us"
    )
    shared_group: str = Field(
        "carbonledger-ingest", description="MQTT shared-subscription group; '' subscribes plainly"
    )
    client_id: str = Field(
        "carbonledger-ingest-1", description="stable: the broker keeps its session"
    )
    metrics_port: int = Field(9108, ge=0, le=65_535, description="Prometheus port; 0 turns it off")


class SimulatorSettings(_Section):
    enterprises: int = Field(50, ge=1, le=100_000)
    seed: int = 2026
    region: str = Field(
        "lishui", description="lishui (nine districts) or a division list's province: zhejiang"
    )
    interval_s: int = Field(15, ge=1, le=3_600, description="seconds between readings")


def _default_max_rates() -> dict[str, float]:
    # Register units per hour a meter of each carrier can physically count (analytics spike
    # check). Electricity registers count secondary units (primary / CT x PT), so even a
    # direct-connected 100 A meter stays below ~70 kWh/h; fuel meters count primary units.
    return {
        "electricity": 200.0,
        "pv": 200.0,
        "natural_gas": 50_000.0,
        "steam": 500.0,
        "heat": 2_000.0,
        "diesel": 50.0,
    }


class AggregateSettings(_Section):
    poll_s: float = Field(2.0, gt=0, le=300, description="wake without NOTIFY after this long")
    max_changes: int = Field(20_000, ge=1, le=1_000_000, description="change rows per cycle")
    metrics_port: int = Field(9109, ge=0, le=65_535, description="Prometheus port; 0 turns it off")
    offline_after_s: int = Field(900, ge=1, description="a gap this long is an offline event")
    stuck_after_s: int = Field(4 * 3600, ge=60, description="register unchanged this long: stuck")
    clock_skew_s: int = Field(300, ge=0, description="reading time this far past its receipt")
    instantaneous_max_gap_s: int = Field(
        300, ge=1, le=3_600, description="kW and CEMS samples further apart are not integrated"
    )
    atmospheric_pa: float = Field(101_325.0, gt=50_000, lt=120_000, description="CEMS Ba")
    max_rate: dict[str, float] = Field(
        default_factory=_default_max_rates,
        description="register units/h per carrier when meters.max_rate is NULL",
    )


class ApiSettings(_Section):
    """The HTTP API (``carbonledger api``, docs/api.md)."""

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65_535)
    workers: int = Field(1, ge=1, le=64, description="uvicorn worker processes")
    pool_max: int = Field(10, ge=1, le=200, description="database connections per worker")
    rate_per_s: float = Field(20.0, gt=0, description="per-key token refill (keys may override)")
    burst: int = Field(40, ge=1, description="per-key bucket size (keys may override)")
    etag_cache: int = Field(10_000, ge=0, description="account bodies kept by ETag per worker")
    key_cache_s: float = Field(
        1.0, ge=0, le=60, description="a key is looked up again after this long (revocation delay)"
    )
    consent_days: int = Field(365, ge=1, description="default consent lifetime")
    top_emitters: int = Field(10, ge=1, le=1_000)
    quality_threshold: Decimal = Field(
        Decimal("0.9"), ge=0, le=1, description="coverage under which watchers are told"
    )
    quality_window_h: int = Field(24, ge=1, le=24 * 31, description="coverage window, hours")
    watch_poll_s: float = Field(30.0, gt=0, description="how often grades and quality are checked")
    webhook_timeout_s: float = Field(5.0, gt=0, le=60)
    webhook_attempts: int = Field(8, ge=1, le=30, description="tries before a delivery fails")
    webhook_backoff_s: float = Field(10.0, gt=0, description="first retry delay; doubles each try")
    webhook_allow_private: bool = Field(
        False, description="deliver to loopback and private addresses (tests, closed networks)"
    )


def _default_guidelines() -> dict[str, str]:
    # GB/T 4754 division -> the industry guideline whose default NCVs apply (domain.md 3.1)
    return {"25": "petrochemical", "26": "chemical"}


class AccountsSettings(_Section):
    """The accounting policy (docs/accounts.md): which factors an account period uses, and more."""

    region: Literal["national", "zhejiang", "east_china"] = Field(
        "zhejiang", description="grid factor region (MEE/NBS average factors)"
    )
    grid_series: Literal[
        "average", "excluding_market_non_fossil", "fossil_only", "carbon_market"
    ] = Field("average", description="grid factor series; the non-average ones are national")
    green_power: Literal["location", "residual"] = Field(
        "location",
        description="location: all purchases at the grid factor; residual: green purchases"
        " zero-rated, the rest at the factor excluding market-traded non-fossil power",
    )
    guideline_by_division: dict[str, str] = Field(
        default_factory=_default_guidelines, description="GB/T 4754 division -> NCV guideline"
    )
    steam_enthalpy: dict[str, Decimal] = Field(
        default_factory=dict, description="kJ/kg per steam meter id (default: the library's)"
    )
    two_high_tce: Decimal = Field(
        Decimal(5000), gt=0, description="两高: annual comprehensive energy use above this, tce"
    )
    two_high_divisions: list[str] = Field(
        default_factory=lambda: ["25", "26", "30", "31", "32", "44"],
        description="GB/T 4754 divisions of the energy-intensive industries",
    )
    grading_model: Literal["huzhou", "quzhou-colour"] = Field(
        "huzhou", description="the grading model an account shows first"
    )
    band_version: str = Field(
        "huzhou-2021", description="Huzhou band set (accounts/ledger/grading)"
    )
    colour_version: str = Field("quzhou-colour-ours-1", description="Quzhou-style colour set")
    factor_files: list[Path] = Field(
        default_factory=list, description="extra factor TOML files loaded after the packaged ones"
    )
    refresh_s: float = Field(2.0, gt=0, le=300, description="live accounts refresh period")
    grade_s: float = Field(
        0.0,
        ge=0,
        le=3600,
        description="live grades recomputed at most this often (0: after every cycle that"
        " wrote accounts); a province sets 30 so that regrading every account does not hold"
        " each cycle (docs/scale.md)",
    )
    cache_ttl_s: float = Field(
        600.0, gt=0, description="every live account refreshed, a cached past read again, after"
    )
    spread_s: float = Field(
        0.0,
        ge=0,
        le=3600,
        description="a refresh of every live account (start, new day, registry, economic data or"
        " factors changed, cache_ttl_s) is spread over this many seconds, least recently"
        " refreshed first, instead of one cycle (0: one cycle); a province sets several times"
        " the cost of refreshing everyone in one cycle, 600 (docs/scale.md)",
    )
    write_chunk: int = Field(
        500,
        ge=1,
        description="live accounts are written this many enterprises at a time, each chunk in a"
        " transaction of its own (about a second at a province), so that no transaction of a"
        " cycle holds the aggregator's watermark for long (docs/scale.md)",
    )
    metrics_port: int = Field(9110, ge=0, le=65_535, description="Prometheus port; 0 turns it off")
    partitions: int = Field(
        1,
        ge=1,
        le=256,
        description="live accounts split by enterprise hash between `accounts run` processes"
        " (one advisory lock per partition); 1: one process, the others stand by",
    )
    read_work_mem: str = Field(
        "64MB",
        pattern=r"^[0-9]+(kB|MB|GB)$",
        description="work_mem of the ledger's bulk activity reads (kept in memory, not on disk)",
    )


class TrustSettings(_Section):
    """Signed certificates and verification (docs/trust.md)."""

    key_dir: Path = Field(
        Path(".state/keys"), description="the signing keys (private key files, mode 0600)"
    )
    deployment_id: str | None = Field(
        None,
        pattern=r"^[a-z0-9][a-z0-9.-]{2,62}$",
        description="names this deployment in every token; unset: the id kept in key_dir",
    )
    certificate_days: int = Field(365, ge=1, le=3_660, description="a certificate's lifetime")
    public_url: str = Field(
        "http://127.0.0.1:8080", description="where the verification page is served (in QR links)"
    )


class Settings(BaseSettings):
    """All configuration of a carbonledger process."""

    model_config = SettingsConfigDict(
        env_prefix="CARBONLEDGER_", env_nested_delimiter="__", extra="forbid"
    )

    database_url: str | None = Field(
        None, validation_alias="DATABASE_URL", description="postgresql://… ; unset: embedded"
    )
    mqtt_url: str | None = Field(
        None, validation_alias="MQTT_URL", description="mqtt://[user:pass@]host[:port] or mqtts://"
    )
    topic_root: str = DEFAULT_TOPIC_ROOT
    state_dir: Path = Path(".state")
    timescaledb: Literal["auto", "on", "off"] = "auto"
    retention: str | None = Field(
        None, description="drop raw chunks older than this, e.g. '3 years'"
    )
    compress_after: str = "7 days"
    log_format: Literal["json", "text"] = "text"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    metrics_host: str = Field(
        "127.0.0.1", description="address the services' /metrics bind to (0.0.0.0 in a container)"
    )
    ingest: IngestSettings = IngestSettings()
    simulator: SimulatorSettings = SimulatorSettings()
    aggregate: AggregateSettings = AggregateSettings()
    api: ApiSettings = ApiSettings()

    accounts: AccountsSettings = AccountsSettings()
    trust: TrustSettings = TrustSettings()

    @field_validator("mqtt_url")
    @classmethod
    def _mqtt_scheme(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
            raise ValueError("must start with mqtt:// or mqtts://")
        return value

    @field_validator("database_url")
    @classmethod
    def _pg_scheme(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in ("postgresql", "postgres"):
            raise ValueError("must start with postgresql://")
        return value

    @field_validator("retention", "compress_after")
    @classmethod
    def _interval(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(
            r"\d+\s*(minutes?|hours?|days?|weeks?|months?|years?)", value.strip()
        ):
            raise ValueError("must be an interval like '7 days' or '3 years'")
        return value


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings: defaults < TOML file < environment < explicit overrides."""
    file_values: dict[str, Any] = {}
    text = ""
    if config_file is not None:
        text, file_values = read_toml(config_file)
    try:
        env_settings = Settings()
        from_env = env_settings.model_dump(exclude_unset=True, by_alias=False)
        merged = _deep_merge(file_values, from_env)
        merged = _deep_merge(merged, overrides)
        return Settings.model_validate(_rename_aliases(merged))
    except ValidationError as exc:
        raise ConfigError(
            describe(exc, config_file, text, "invalid configuration", _file_key)
        ) from exc


def _rename_aliases(values: dict[str, Any]) -> dict[str, Any]:
    renamed = dict(values)
    for name, alias in (("database_url", "DATABASE_URL"), ("mqtt_url", "MQTT_URL")):
        if name in renamed:
            renamed[alias] = renamed.pop(name)
    return renamed


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _file_key(loc: list[str]) -> list[str]:
    """pydantic reports the URL settings by their environment names; the file uses field names."""
    aliases = {"DATABASE_URL": "database_url", "MQTT_URL": "mqtt_url"}
    return [aliases.get(part, part) for part in loc]


def redact(url: str | None) -> str:
    """A URL fit for logs: the password replaced."""
    if not url:
        return "(embedded)"
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@", 1)
    return url


def require_database_url(settings: Settings) -> str:
    """The configured database URL, or a :class:`ConfigError` that says how to get one."""
    if not settings.database_url:
        raise ConfigError("DATABASE_URL is not set (make demo starts an embedded database)")
    return settings.database_url
