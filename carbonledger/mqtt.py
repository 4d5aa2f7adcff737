"""MQTT connection settings shared by the simulator, the edge agent and ingest (paho-mqtt 2.x)."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from carbonledger.errors import ConfigError

DEFAULT_URL = "mqtt://127.0.0.1:1883"


@dataclass(frozen=True)
class MqttEndpoint:
    """Where and how to connect: ``mqtt://user:pass@host:1883`` or ``mqtts://host:8883``.

    ``?protocol=3.1.1`` selects MQTT 3.1.1 for brokers without MQTT 5 (the embedded broker).
    """

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None
    protocol: MQTTProtocolVersion = MQTTProtocolVersion.MQTTv5

    @classmethod
    def from_url(cls, url: str | None) -> MqttEndpoint:
        parts = urlsplit(url or DEFAULT_URL)
        tls = parts.scheme in ("mqtts", "ssl")
        if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl") or not parts.hostname:
            raise ConfigError(f"MQTT_URL {url!r}: expected mqtt://host[:port] or mqtts://…")
        query = parse_qs(parts.query)
        protocol = MQTTProtocolVersion.MQTTv5
        if query.get("protocol") == ["3.1.1"]:
            protocol = MQTTProtocolVersion.MQTTv311
        return cls(
            host=parts.hostname,
            port=parts.port or (8883 if tls else 1883),
            tls=tls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            protocol=protocol,
        )

    @property
    def is_v5(self) -> bool:
        return bool(self.protocol == MQTTProtocolVersion.MQTTv5)

    def client(self, client_id: str, *, manual_ack: bool = False) -> paho.Client:
        """A configured, unconnected paho client (callback API v2)."""
        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=self.protocol,
            manual_ack=manual_ack,
            clean_session=None if self.is_v5 else False,
        )
        if self.username is not None:
            client.username_pw_set(self.username, self.password)
        if self.tls:
            client.tls_set_context(ssl.create_default_context())
        return client
