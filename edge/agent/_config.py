"""The gateway config (``gateway.toml``): one pydantic model, validated once at start-up.

Validation is local only (Telegraf's rule): it parses the file, checks types, ranges, enums, the
MQTT URL's shape and that TLS files exist and are readable, and never opens a socket, so a typo is
reported before anything connects. Errors name the file, the line, the key and the problem::

    gateway.toml:14: outbox.when_full: Input should be 'drop-oldest' or 'refuse-new'

Devices are a discriminated union on ``type`` built from :data:`edge.drivers.catalog.DRIVERS`
when the file is loaded, so a driver added to the catalogue is configurable with no change here.
"""

from __future__ import annotations

import enum
import os
from pathlib import Path
from typing import Annotated, Any, Union
from urllib.parse import unquote, urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from carbonledger.errors import ConfigError
from carbonledger.tomlfile import describe, read_toml
from carbonledger.wire import CREDIT_CODE_PATTERN, DEFAULT_TOPIC_ROOT, ID_PATTERN, status_topic
from edge.drivers.catalog import DRIVERS, drivers

_GATEWAY_ID = f"^{ID_PATTERN}$"
_USCC = f"^{CREDIT_CODE_PATTERN}$"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FullPolicy(enum.StrEnum):
    """What the outbox does at its disk quota (an enum, not a boolean: more policies may come)."""

    DROP_OLDEST = "drop-oldest"  # keep the newest readings, delete the oldest ones
    REFUSE_NEW = "refuse-new"  # keep the oldest readings, turn new ones away


class MqttProtocol(enum.StrEnum):
    V5 = "5"
    V311 = "3.1.1"


class MqttConfig(_Section):
    """Where the broker is and how the gateway proves who it is."""

    url: str = Field(description="mqtt://host[:port] or mqtts://host[:port] (TLS)")
    username: str | None = None
    password: str | None = Field(None, repr=False)
    ca_file: Path | None = Field(None, description="CA bundle for mqtts://; system CAs if unset")
    cert_file: Path | None = Field(None, description="client certificate (mutual TLS)")
    key_file: Path | None = Field(None, description="the client certificate's private key")
    client_id: str | None = Field(None, description="default: the gateway id")
    protocol: MqttProtocol = MqttProtocol.V5
    keepalive_s: int = Field(30, ge=5, le=3_600)
    connect_timeout_s: float = Field(15.0, gt=0, le=300)
    reconnect_min_s: float = Field(1.0, gt=0, le=600)
    reconnect_max_s: float = Field(60.0, gt=0, le=3_600)

    @property
    def tls(self) -> bool:
        return urlsplit(self.url).scheme in ("mqtts", "ssl")

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or (8883 if self.tls else 1883)

    def credentials(self) -> tuple[str | None, str | None]:
        """Username and password: the explicit keys win over the ones in the URL."""
        parts = urlsplit(self.url)
        user = self.username or (unquote(parts.username) if parts.username else None)
        password = self.password or (unquote(parts.password) if parts.password else None)
        return user, password

    @field_validator("url")
    @classmethod
    def _url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl") or not parts.hostname:
            raise ValueError(f"{url!r}: expected mqtt://host[:port] or mqtts://host[:port]")
        try:
            parts.port  # noqa: B018 - raises on a bad port
        except ValueError as exc:
            raise ValueError(f"{url!r}: {exc}") from None
        return url

    @field_validator("ca_file", "cert_file", "key_file")
    @classmethod
    def _readable(cls, path: Path | None) -> Path | None:
        if path is not None and (not path.is_file() or not os.access(path, os.R_OK)):
            raise ValueError(f"{path}: no such readable file")
        return path

    @model_validator(mode="after")
    def _check(self) -> MqttConfig:
        if any((self.ca_file, self.cert_file, self.key_file)) and not self.tls:
            raise ValueError("ca_file/cert_file/key_file need an mqtts:// url")
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together (mutual TLS needs both)")
        if self.reconnect_min_s > self.reconnect_max_s:
            raise ValueError("reconnect_min_s is larger than reconnect_max_s")
        return self


class OutboxConfig(_Section):
    path: Path = Field(Path("outbox.sqlite"), description="SQLite file; relative to the config")
    quota_mb: float = Field(512.0, gt=0, le=1_000_000, description="disk quota of the outbox")
    when_full: FullPolicy = FullPolicy.DROP_OLDEST


class PublishConfig(_Section):
    batch_size: int = Field(500, ge=1, le=10_000, description="readings per MQTT message")
    max_delay_ms: int = Field(1_000, ge=0, le=600_000, description="oldest reading's wait")
    replay_rate: float = Field(
        5_000.0, gt=0, le=10_000_000, description="readings/s cap; paces backlog replay"
    )
    max_inflight: int = Field(8, ge=1, le=1_000, description="messages awaiting PUBACK")
    ack_timeout_s: float = Field(30.0, gt=0, le=3_600, description="PUBACK wait before reconnect")


class HeartbeatConfig(_Section):
    interval_s: float = Field(60.0, gt=0, le=86_400)


class GatewayConfig(_Section):
    """A whole gateway: identity, broker, outbox, publishing, heartbeat, devices."""

    gateway_id: str = Field(pattern=_GATEWAY_ID)
    enterprise: str = Field(pattern=_USCC, description="unified social credit code, 18 chars")
    topic_root: str = Field(DEFAULT_TOPIC_ROOT, min_length=1)
    mqtt: MqttConfig
    outbox: OutboxConfig = OutboxConfig()
    publish: PublishConfig = PublishConfig()
    heartbeat: HeartbeatConfig = HeartbeatConfig()
    devices: list[Any] = Field(min_length=1)  # replaced by the catalogue's union in _model()

    @property
    def status_topic(self) -> str:
        return status_topic(self.enterprise, self.gateway_id, self.topic_root)

    @model_validator(mode="after")
    def _unique_meters(self) -> GatewayConfig:
        seen: dict[str, int] = {}
        for index, device in enumerate(self.devices):
            for meter in meter_ids(device):
                if meter in seen:
                    raise ValueError(f"meter {meter!r} is in devices {seen[meter]} and {index}")
                seen[meter] = index
        return self


def meter_ids(device: object) -> list[str]:
    """The meter ids a device config names (``meter`` or ``meters``), whatever its driver."""
    found: list[str] = []
    single = getattr(device, "meter", None)
    if isinstance(single, str):
        found.append(single)
    many = getattr(device, "meters", None)
    if isinstance(many, list | tuple):
        for item in many:
            meter = item if isinstance(item, str) else getattr(item, "meter", None)
            if isinstance(meter, str):
                found.append(meter)
    return found


def _model(values: dict[str, Any]) -> type[GatewayConfig]:
    """GatewayConfig with ``devices`` typed as the union of the configured drivers' configs.

    Only the drivers the file names are imported; a type the catalogue does not know brings in
    every driver, so the error lists all the types there are.
    """
    devices = values.get("devices")
    types = (
        {d.get("type") for d in devices if isinstance(d, dict)}
        if isinstance(devices, list)
        else set()
    )
    if not types <= DRIVERS.keys():
        types = set(DRIVERS)
    configs = tuple(entry.config for entry in drivers(t for t in types if isinstance(t, str)))
    if not configs:
        return GatewayConfig
    device: Any = Annotated[Union[configs], Field(discriminator="type")]  # noqa: UP007
    model: type[GatewayConfig] = create_model(
        "GatewayConfig",
        __base__=GatewayConfig,
        devices=(list[device], Field(min_length=1)),
    )
    return model


def load_gateway_config(path: Path) -> GatewayConfig:
    """Read and validate ``path``; relative file paths in it are relative to its directory."""
    text, values = read_toml(path)
    _resolve_paths(values, path.parent)
    try:
        return _model(values).model_validate(values)
    except ValidationError as exc:
        raise ConfigError(describe(exc, path, text, "invalid gateway config", _file_key)) from exc


def _resolve_paths(values: dict[str, Any], base: Path) -> None:
    for section, keys in (("mqtt", ("ca_file", "cert_file", "key_file")), ("outbox", ("path",))):
        table = values.get(section)
        if isinstance(table, dict):
            for key in keys:
                if isinstance(table.get(key), str):
                    table[key] = str(base / Path(table[key]).expanduser())


def _file_key(loc: list[str]) -> list[str]:
    """pydantic puts the device union's tag in the path; the file has no table by that name."""
    if len(loc) >= 3 and loc[0] == "devices" and loc[2] in DRIVERS:
        return [*loc[:2], *loc[3:]]
    return loc
