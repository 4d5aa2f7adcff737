"""The MQTT side of ingest: a persistent session, manual acknowledgement, broker-side flow control.

paho-mqtt 2.x delivers messages on its network thread; :class:`MqttConsumer` hands them to the
writer through a queue and acknowledges each one only when the writer says its readings are
committed. Flow control is the broker's: the CONNECT packet's Receive Maximum caps how many
unacknowledged messages the broker sends us, so while the database is slow or down the queue stops
growing and the broker keeps the rest (QoS 1, persistent session). For MQTT 3.1.1 brokers, which
have no Receive Maximum, the queue is bounded and a full queue blocks paho's thread, which stops
reading the socket: TCP then holds the broker back.

Packet ids are reused after a reconnect, so every delivery carries the connection epoch it arrived
on; an acknowledgement for an earlier epoch is not sent (the broker redelivers that message, and
the identity of readings makes the repeat harmless).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from carbonledger.mqtt import MqttEndpoint

log = logging.getLogger(__name__)

# Ingest is the subscriber every gateway waits for: after a Mosquitto restart its shared
# subscription is gone until it reconnects and subscribes again, and meanwhile gateways keep their
# readings and back off (edge.agent._publisher). So it retries often: a handful of clients per
# broker, where paho's default backoff (up to 2 minutes; 30 s here before) left a restarted broker
# without its subscriber for that long.
_RECONNECT_MAX_S = 4


@dataclass(frozen=True, slots=True)
class Delivery:
    topic: str
    payload: bytes
    mid: int
    qos: int
    epoch: int
    received_at: datetime
    received_monotonic: float


class MqttConsumer:
    def __init__(
        self,
        endpoint: MqttEndpoint,
        client_id: str,
        topic_filter: str,
        receive_maximum: int,
        session_expiry_s: int = 7 * 24 * 3600,
    ) -> None:
        self._endpoint = endpoint
        self._filter = topic_filter
        self._receive_maximum = receive_maximum
        self._session_expiry_s = session_expiry_s
        self._queue: queue.Queue[Delivery] = queue.Queue(maxsize=receive_maximum)
        self._epoch = 0
        self._stopping = False
        self._lock = threading.Lock()
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self._client = endpoint.client(client_id, manual_ack=True)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message
        self._client.reconnect_delay_set(min_delay=1, max_delay=_RECONNECT_MAX_S)

    def start(self) -> None:
        properties = None
        if self._endpoint.is_v5:
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = self._session_expiry_s
            properties.ReceiveMaximum = self._receive_maximum
        self._client.connect_async(
            self._endpoint.host,
            self._endpoint.port,
            keepalive=30,
            clean_start=False,
            properties=properties,
        )
        self._client.loop_start()

    def stop(self) -> None:
        self._stopping = True
        self._client.disconnect()
        self._client.loop_stop()

    def get(self, timeout: float) -> Delivery | None:
        try:
            return self._queue.get(timeout=timeout) if timeout > 0 else self._queue.get_nowait()
        except queue.Empty:
            return None

    def depth(self) -> int:
        return self._queue.qsize()

    def ack(self, delivery: Delivery) -> bool:
        """Acknowledge one delivery; False when it came on an earlier connection (not sent)."""
        if delivery.qos == 0:
            return True
        with self._lock:
            if delivery.epoch != self._epoch or not self.connected.is_set():
                return False
        rc = self._client.ack(delivery.mid, delivery.qos)
        return rc == paho.MQTT_ERR_SUCCESS

    def _on_connect(
        self, client: paho.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if reason.is_failure:
            log.error("broker refused the connection", extra={"reason": str(reason)})
            return
        with self._lock:
            self._epoch += 1
        self.connected.set()
        log.info(
            "connected to broker",
            extra={"session_present": bool(flags.session_present), "filter": self._filter},
        )
        client.subscribe(self._filter, qos=1)

    def _on_subscribe(
        self, client: paho.Client, userdata: Any, mid: int, reasons: Any, properties: Any
    ) -> None:
        if any(r.is_failure for r in reasons):
            log.error(
                "subscription refused", extra={"filter": self._filter, "reasons": str(reasons)}
            )
            return
        log.info("subscribed", extra={"filter": self._filter})
        self.subscribed.set()

    def _on_disconnect(
        self, client: paho.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        self.connected.clear()
        self.subscribed.clear()
        if self._stopping:
            log.info("disconnected from broker", extra={"reason": str(reason)})
        else:
            log.warning("disconnected from broker, reconnecting", extra={"reason": str(reason)})

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        delivery = Delivery(
            topic=message.topic,
            payload=bytes(message.payload),
            mid=message.mid,
            qos=message.qos,
            epoch=self._epoch,
            received_at=datetime.now(UTC),
            received_monotonic=time.monotonic(),
        )
        self._queue.put(delivery)  # blocks only for MQTT 3.1.1 brokers: see the module docstring
