"""The edge agent: field drivers → durable SQLite outbox → MQTT publisher (QoS 1, batches).

``carbonledger edge run --config gateway.toml`` (or ``python -m edge.agent --config …``) runs one
gateway; the launcher loads only the ``edge`` commands for it, so neither imports the server. See
``edge/agent/sample-gateway.toml`` for every config key and ``docs/wire-format.md`` for the
status payload. Importing this package never imports a database driver.
"""

from carbonledger.errors import OutboxError, OutboxFullError

from ._agent import Agent, run_gateway
from ._config import (
    FullPolicy,
    GatewayConfig,
    HeartbeatConfig,
    MqttConfig,
    MqttProtocol,
    OutboxConfig,
    PublishConfig,
    load_gateway_config,
)
from ._counters import Counters
from ._mqtt import ConnectionLostError, MqttLink, PublishRefusedError
from ._outbox import Outbox, StoredBatch, WriteResult

__all__ = [
    "Agent",
    "ConnectionLostError",
    "Counters",
    "FullPolicy",
    "GatewayConfig",
    "HeartbeatConfig",
    "MqttConfig",
    "MqttLink",
    "MqttProtocol",
    "Outbox",
    "OutboxConfig",
    "OutboxError",
    "OutboxFullError",
    "PublishConfig",
    "PublishRefusedError",
    "StoredBatch",
    "WriteResult",
    "load_gateway_config",
    "run_gateway",
]
