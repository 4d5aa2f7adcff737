"""A small asyncio face for one paho-mqtt 2.x connection (aiomqtt's idea, without dropping).

One :class:`MqttLink` is one connection: :meth:`MqttLink.connect` returns when the CONNACK came,
:meth:`MqttLink.publish` returns a future completed by the PUBACK (failed when its reason code
says the broker did not take the message, MQTT 5's "no matching subscribers" included), and
:attr:`MqttLink.lost` is completed when the connection ends. The caller owns reconnection (as in
aiomqtt): after a loss it builds a new link, and re-sends from the outbox whatever was not
acknowledged. A fresh paho client per connection means paho keeps no queue of its own that could
re-send behind our back.

Why paho's network loop runs on its own thread (``loop_start``) rather than being driven from
the event loop through the socket callbacks:

* ``connect`` is blocking (DNS, TCP, the TLS handshake) and would need a thread anyway;
* keep-alive pings and PUBACKs are served even while the event loop is busy (JSON-encoding a
  10,000-reading batch, a driver's CPU work), so a slow moment never looks like a dead link;
* it is paho's best-trodden mode. Its known cost, a socket-pair wake-up per publish from another
  thread (``simulator.publisher`` measured about 2,500 messages/s), does not matter here:
  one message carries a whole batch of readings.

Paho's callbacks run on its thread and only hand results to the event loop with
``call_soon_threadsafe``. Because :meth:`publish` registers the future for a message id in the
same synchronous step that calls ``client.publish``, a PUBACK callback scheduled that way always
finds its future, however fast the broker answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode

from carbonledger.errors import BrokerUnavailableError

from ._config import MqttConfig, MqttProtocol

log = logging.getLogger(__name__)


class ConnectionLostError(BrokerUnavailableError):
    """The connection ended (or a PUBACK did not come in time) before a message was acknowledged."""


class PublishRefusedError(BrokerUnavailableError):
    """The broker answered a publish with a failure reason code (MQTT 5), e.g. not authorised."""


class NoSubscribersError(PublishRefusedError):
    """The broker acknowledged a publish with reason 0x10, *no matching subscribers* (MQTT 5).

    Not a failure code in MQTT, but for readings it is one: the broker discarded the message, so
    nobody will store it. It happens whenever ingest's subscription is missing, and in particular
    after every Mosquitto 2.0 restart: it persists ingest's session but not its *shared*
    subscription, which exists again only once ingest has reconnected and subscribed. Until then
    the readings must stay in the outbox.
    """


_NO_MATCHING_SUBSCRIBERS = 0x10


def tls_context(config: MqttConfig) -> ssl.SSLContext:
    """Verify the broker against ``ca_file`` (or the system CAs), present a client cert if set."""
    context = ssl.create_default_context(cafile=str(config.ca_file) if config.ca_file else None)
    if config.cert_file is not None and config.key_file is not None:
        context.load_cert_chain(str(config.cert_file), str(config.key_file))
    return context


class MqttLink:
    """One connection to the broker (see the module docstring)."""

    def __init__(
        self, config: MqttConfig, client_id: str, will: tuple[str, bytes] | None = None
    ) -> None:
        self.config = config
        self._loop = asyncio.get_running_loop()
        v5 = config.protocol is MqttProtocol.V5
        self._client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311,
            clean_session=None if v5 else True,
        )
        self._v5 = v5
        user, password = config.credentials()
        if user is not None:
            self._client.username_pw_set(user, password)
        if config.tls:
            self._client.tls_set_context(tls_context(config))
        if will is not None:
            self._client.will_set(will[0], will[1], qos=1, retain=True)
        self._client.max_inflight_messages_set(65_535)  # the publisher bounds what is in flight
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_publish = self._on_publish
        self._connack: asyncio.Future[None] = self._loop.create_future()
        self.lost: asyncio.Future[None] = self._loop.create_future()
        self._acks: dict[int, asyncio.Future[None]] = {}
        self._teardown: asyncio.Future[None] | None = None

    @property
    def where(self) -> str:
        return f"{self.config.host}:{self.config.port}"

    async def connect(self) -> None:
        """Connect and wait for the CONNACK; :class:`BrokerUnavailableError` if that fails."""
        try:
            await self._loop.run_in_executor(None, self._open)
            self._client.loop_start()
            await asyncio.wait_for(
                asyncio.shield(self._connack), timeout=self.config.connect_timeout_s
            )
        except (OSError, ssl.SSLError) as exc:
            await self.aclose()
            raise BrokerUnavailableError(f"cannot connect to {self.where}: {exc}") from exc
        except TimeoutError as exc:
            await self.aclose()
            raise BrokerUnavailableError(f"no CONNACK from {self.where} in time") from exc
        except BrokerUnavailableError:
            await self.aclose()
            raise

    def _open(self) -> None:
        self._client.connect_timeout = self.config.connect_timeout_s
        if self._v5:
            self._client.connect(
                self.config.host, self.config.port, self.config.keepalive_s, clean_start=True
            )
        else:
            self._client.connect(self.config.host, self.config.port, self.config.keepalive_s)

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> asyncio.Future[None]:
        """Send at QoS 1; the future completes with the PUBACK or fails if the link is lost."""
        if self.lost.done():
            raise ConnectionLostError(f"not connected to {self.where}")
        info = self._client.publish(topic, payload, qos=1, retain=retain)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise ConnectionLostError(
                f"publish to {self.where} failed: {paho.error_string(info.rc)}"
            )
        future: asyncio.Future[None] = self._loop.create_future()
        self._acks[info.mid] = future
        return future

    def close(self) -> None:
        """End the connection now: fail what awaits a PUBACK, disconnect in the background.

        A clean DISCONNECT (no Last Will). Stopping paho's thread joins it, which can take up to
        a second, so it happens off the event loop; :meth:`aclose` waits for it. Idempotent.
        """
        self._fail_all(ConnectionLostError(f"connection to {self.where} closed"))
        if self._teardown is None:
            self._teardown = self._loop.run_in_executor(None, self._stop_paho)

    async def aclose(self) -> None:
        """:meth:`close` and wait until paho's thread has ended."""
        self.close()
        assert self._teardown is not None  # noqa: S101 - set by close()
        await self._teardown

    def _stop_paho(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    # -- paho's thread -----------------------------------------------------------------------------

    def _to_loop(self, callback: Any, *args: object) -> None:
        # RuntimeError: the event loop is closed, we are shutting down and nobody waits
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(callback, *args)

    def _on_connect(
        self, _c: paho.Client, _u: Any, _f: Any, reason: ReasonCode, _p: Any = None
    ) -> None:
        self._to_loop(self._connected, reason)

    def _on_disconnect(
        self, _c: paho.Client, _u: Any, _f: Any, reason: ReasonCode, _p: Any = None
    ) -> None:
        self._to_loop(self._disconnected, reason)

    def _on_publish(
        self, _c: paho.Client, _u: Any, mid: int, reason: ReasonCode, _p: Any = None
    ) -> None:
        self._to_loop(self._acked, mid, reason)

    # -- back on the event loop --------------------------------------------------------------------

    def _connected(self, reason: ReasonCode) -> None:
        if self._connack.done():
            return
        if reason.is_failure:
            self._connack.set_exception(
                BrokerUnavailableError(f"{self.where} refused the connection: {reason}")
            )
        else:
            self._connack.set_result(None)

    def _disconnected(self, reason: ReasonCode) -> None:
        error = ConnectionLostError(f"connection to {self.where} lost: {reason}")
        if not self._connack.done():
            self._connack.set_exception(error)
        self._fail_all(error)

    def _acked(self, mid: int, reason: ReasonCode) -> None:
        future = self._acks.pop(mid, None)
        if future is None or future.done():
            return
        if reason.is_failure:
            future.set_exception(PublishRefusedError(f"{self.where} refused a publish: {reason}"))
        elif reason.value == _NO_MATCHING_SUBSCRIBERS:
            future.set_exception(NoSubscribersError(f"{self.where} has no subscriber: {reason}"))
        else:
            future.set_result(None)

    def _fail_all(self, error: BrokerUnavailableError) -> None:
        if not self.lost.done():
            self.lost.set_result(None)
        acks, self._acks = self._acks, {}
        for future in acks.values():
            if not future.done():
                future.set_exception(error)
        if not self._connack.done():
            self._connack.set_exception(error)
            self._connack.exception()  # retrieved: nobody may be waiting for it any more
