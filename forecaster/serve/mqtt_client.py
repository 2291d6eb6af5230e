"""The paho-mqtt adapter: the only module that imports paho.

`MqttClient` connects (MQTT 5 by default, 3.1.1 on request; plain TCP or TLS), reconnects
on its own with backoff, subscribes in ``on_connect`` (so a reconnect resubscribes), keeps
a retained ``online``/``offline`` status topic (``offline`` is also the last will), and
hands each message to a callback that runs in paho's network thread: it must be quick
(parse and enqueue; the daemon forecasts there only when it is otherwise idle).
"""

from __future__ import annotations

import logging
import select
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import NamedTuple

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from forecaster.serve.connect_errors import ConnectFailures
from forecaster.serve.mqtt_paho import paho_client, resend_pending, settled
from forecaster.serve.mqtt_settings import MqttSettings
from forecaster.serve.telemetry import ExceptionLog
from pipelines.errors import ForecasterError

log = logging.getLogger(__name__)

PRUNE_PENDING_AT = 4096  # QoS > 0 messages tracked for `flush` before acknowledged ones are dropped
PUBLISH_BUFFER = 10_000  # QoS > 0 messages kept while disconnected (the oldest dropped beyond)
FAILURE_LOG_EVERY = 10.0  # seconds between two log lines about refused publishes


class Delivery(NamedTuple):
    """What `MqttClient.ack` needs to acknowledge one received message later (manual acks)."""

    connection: int  # the connection it came on: an ack is only valid on that one
    mid: int
    qos: int
    dup: bool  # the broker sent it before (MQTT's DUP flag: a redelivery)


class MqttClient:
    """A connected MQTT client that keeps itself connected.

    Args:
        settings: connection settings.
        subscriptions: ``(topic filter, qos)`` pairs, (re)subscribed on every connect.
        on_message: ``(topic, payload)`` callback (``(topic, payload, delivery)`` with
            ``manual_ack``); runs in paho's network thread, so it must
            be quick (no other message is read meanwhile).
        status_topic: retained ``online`` after each connect; ``offline`` as last will and
            on `stop`. None: no status.
        on_state: called with True/False when the connection comes up or goes down.
        buffer_size: QoS 1/2 messages kept while disconnected and sent on reconnect; when it
            is full the oldest is dropped and counted (``buffer_drops``).
        manual_ack: received QoS 1/2 messages are acknowledged only by `ack` (paho's manual
            acks), and ``on_message`` gets a third argument, the message's `Delivery`.
        receive_maximum: MQTT 5: QoS 1/2 messages the broker may send before an
            acknowledgement (the in-flight window); None: the broker's default.
    """

    def __init__(
        self,
        settings: MqttSettings,
        *,
        subscriptions: Sequence[tuple[str, int]] = (),
        on_message: Callable[..., None] | None = None,
        status_topic: str | None = None,
        on_state: Callable[[bool], None] | None = None,
        buffer_size: int = PUBLISH_BUFFER,
        manual_ack: bool = False,
        receive_maximum: int | None = None,
    ) -> None:
        if isinstance(buffer_size, bool) or not isinstance(buffer_size, int) or buffer_size < 1:
            raise ForecasterError(f"`buffer_size` must be a positive integer. Received: buffer_size={buffer_size!r}")
        self.settings = settings
        self.subscriptions = list(subscriptions)
        self.status_topic = status_topic
        self._on_message = on_message
        self._on_state = on_state
        self.connected = threading.Event()
        self.connects = 0
        self._stopping = False
        self._background = True
        self._pending: list[mqtt.MQTTMessageInfo] = []
        self._prune_at = PRUNE_PENDING_AT
        self._pending_lock = threading.Lock()
        self._buffer: deque[tuple[str, bytes, int, bool]] = deque()
        self.buffer_size = buffer_size
        self.buffer_drops = 0
        self.publish_failures = 0
        self._publish_lock = threading.Lock()  # orders publishes against connect / disconnect
        self._direct = False  # publishes go straight to paho (connected, and the buffer sent)
        self._failure_logged_at = float("-inf")
        self._subscribing: dict[int, str] = {}  # SUBSCRIBE mid -> topic filter
        self._granted: set[str] = set()
        self.refused_subscriptions: dict[str, str] = {}  # topic filter -> the broker's reason
        self.refused_by_broker: str | None = None  # the reason of the last publish the broker refused
        self.callback_errors = 0
        self._callback_error = ExceptionLog(log)
        self.last_publish_ok = 0.0  # Unix time of the last publish the broker acknowledged
        self.manual_ack = manual_ack
        self.receive_maximum = receive_maximum
        self._client = paho_client(settings, status_topic)
        self._client.manual_ack_set(manual_ack)
        self.connect_failures = ConnectFailures(str(settings.broker))  # one ERROR line per outage, with the cause
        self._client.enable_logger(self.connect_failures.paho_logger(logging.getLogger("paho")))
        self._client.on_pre_connect = lambda _client, _userdata: self.connect_failures.attempt()
        # paho calls on_connect_fail inside its `except OSError` around reconnect(): the error is sys.exc_info()'s
        self._client.on_connect_fail = lambda _client, _userdata: self.connect_failures.failed(sys.exc_info()[1])
        self._client.on_connect = self._handle_connect
        self._client.on_disconnect = self._handle_disconnect
        self._client.on_message = self._handle_message
        self._client.on_subscribe = self._handle_subscribe
        self._client.on_publish = self._handle_publish

    # ----------------------------------------------------------------- lifecycle
    def start(self, *, background: bool = True) -> None:
        """Connect in the background (retrying until the broker answers).

        Args:
            background: False: no network thread; the caller drives the client with
                `poll` from ONE thread, and `publish` writes to the socket at once instead
                of waking a network thread (a load generator's publish then costs no thread
                switch). No automatic reconnect in this mode.
        """
        s = self.settings
        properties = None
        clean_start: bool | int = mqtt.MQTT_CLEAN_START_FIRST_ONLY
        if s.protocol == "5":
            properties = Properties(PacketTypes.CONNECT)
            if s.persistent:
                clean_start = False
                properties.SessionExpiryInterval = s.session_expiry
            if self.receive_maximum:
                properties.ReceiveMaximum = min(self.receive_maximum, 65535)
        try:
            self._client.connect_async(s.broker.host, s.broker.port, s.keepalive, clean_start=clean_start, properties=properties)
        except (OSError, ValueError) as exc:
            raise ForecasterError(f"cannot connect to {s.broker}: {exc}") from None
        self._background = background
        if background:
            self._client.loop_start()
            return
        try:
            self._client.reconnect()
        except OSError as exc:
            raise ForecasterError(f"cannot connect to {s.broker}: {exc}") from None

    def poll(self, timeout: float) -> None:
        """Read, write and keep alive for up to ``timeout`` seconds in the caller's thread
        (only for a client started with ``background=False``)."""
        rc = self._client.loop(timeout)
        if rc != MQTTErrorCode.MQTT_ERR_SUCCESS and not self._stopping:
            raise ForecasterError(f"connection to {self.settings.broker} lost: {mqtt.error_string(rc)}")

    def wait_connected(self, timeout: float) -> bool:
        """Block until connected (True) or ``timeout`` seconds pass (False)."""
        return self.connected.wait(timeout)

    def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> bool:
        """Queue one message (thread-safe); never raises. False when it was dropped.

        While disconnected, QoS 1 and 2 messages wait in a bounded buffer and go out on the
        reconnect, in order (True; when the buffer is full the oldest is dropped and counted in
        ``buffer_drops``); QoS 0 messages are dropped (False). A message paho refuses (a
        topic the protocol forbids, say) is counted in ``publish_failures`` and logged at most
        every 10 s, and the next one is published as usual.
        """
        with self._publish_lock:
            if self._direct:
                return self._send(topic, payload, qos, retain)
            if qos == 0 and self.connected.is_set():
                return self._send(topic, payload, qos, retain)
            if qos == 0:
                return False
            if len(self._buffer) >= self.buffer_size:
                self._buffer.popleft()
                self.buffer_drops += 1
            self._buffer.append((topic, payload, qos, retain))
            return True

    @property
    def buffered(self) -> int:
        """QoS 1/2 messages waiting for the connection to come back."""
        return len(self._buffer)

    def _send(self, topic: str, payload: bytes, qos: int, retain: bool) -> bool:
        """Hand one message to paho (the caller holds ``_publish_lock``)."""
        try:
            info = self._client.publish(topic, payload, qos=qos, retain=retain)
        except (ValueError, TypeError, RuntimeError, OSError) as exc:
            self._publish_failed(topic, str(exc))
            return False
        queued = info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS or (qos > 0 and info.rc == MQTTErrorCode.MQTT_ERR_NO_CONN)
        if not queued:
            self._publish_failed(topic, mqtt.error_string(info.rc))
        elif qos > 0:
            with self._pending_lock:
                if len(self._pending) >= self._prune_at:
                    # drop the settled ones; prune again only when the list has doubled, so
                    # that thousands of unacknowledged forecasts (a saturated daemon) do not
                    # make every publish scan them (measured: capped serve at ~1,200 forecasts/s)
                    self._pending = [i for i in self._pending if not settled(i)]
                    self._prune_at = max(PRUNE_PENDING_AT, 2 * len(self._pending))
                self._pending.append(info)
        return queued

    def _publish_failed(self, topic: str, reason: str) -> None:
        self.publish_failures += 1
        now = time.monotonic()
        if now - self._failure_logged_at >= FAILURE_LOG_EVERY:
            self._failure_logged_at = now
            log.error("publish to %r refused: %s (%d refused so far)", topic[:128], reason, self.publish_failures)

    def ack(self, deliveries: Sequence[Delivery]) -> None:
        """Acknowledge received QoS 1/2 messages (thread-safe; with ``manual_ack``). A message
        of an earlier connection is not acknowledged: the broker redelivers it on this one."""
        for delivery in deliveries:
            if delivery.qos and delivery.connection == self.connects:
                self._client.ack(delivery.mid, delivery.qos)

    def incoming_pending(self) -> bool:
        """True when another message already waits to be read (checked without blocking)."""
        sock = self._client.socket()
        if sock is None:
            return False
        pending = getattr(sock, "pending", None)  # TLS: bytes already decrypted
        if pending is not None and pending():
            return True
        try:
            readable, _, _ = select.select([sock], [], [], 0)
        except (OSError, ValueError):  # closed meanwhile
            return False
        return bool(readable)

    def flush(self, timeout: float) -> bool:
        """Wait until every QoS > 0 message published so far, and every message kept while
        disconnected, is acknowledged (or failed for good); False on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            with self._pending_lock:
                pending, self._pending = self._pending, []
            for info in pending:
                while not settled(info):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return False
                    try:
                        info.wait_for_publish(min(left, 0.1))
                    except (RuntimeError, ValueError):  # queued while the connection was down: paho
                        time.sleep(0.01)  # resends it, and `settled` reads its flag instead
            if not self._buffer:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)  # the buffer goes out once the connection is back

    def stop(self, timeout: float = 3.0) -> None:
        """Publish ``offline`` (if connected), disconnect cleanly and stop the network thread."""
        self._stopping = True
        if self.status_topic and self.connected.is_set():
            info = self._client.publish(self.status_topic, b"offline", qos=1, retain=True)
            deadline = time.monotonic() + timeout
            while not self._background and not info.is_published() and time.monotonic() < deadline:
                self._client.loop(0.05)
            try:
                info.wait_for_publish(max(deadline - time.monotonic(), 0.001))
            except RuntimeError as exc:  # the connection dropped meanwhile: the will covers it
                log.warning("could not publish offline status: %s", exc)
        self._client.disable_logger()  # paho 2.2 logs a spurious "not connected" error after a clean disconnect
        self._client.disconnect()
        if self._background:
            self._client.loop_stop()
        self.connected.clear()

    # ----------------------------------------------------------------- callbacks
    def _handle_connect(self, client: mqtt.Client, _userdata, _flags, reason_code, _properties) -> None:
        if reason_code.is_failure:
            self.connect_failures.failed(refusal=str(reason_code))
            return
        self.connect_failures.connected()
        self.connects += 1
        sock = client.socket()
        if sock is not None and hasattr(sock, "setsockopt"):
            # paho leaves Nagle on: small forecasts would wait for the broker's delayed ACK (~40 ms)
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        log.info("connected to %s as %s (connection %d)", self.settings.broker, self.settings.client_id, self.connects)
        self._granted.clear()
        for topic, qos in self.subscriptions:
            result, mid = client.subscribe(topic, qos=qos)
            if result != MQTTErrorCode.MQTT_ERR_SUCCESS:
                log.error("subscribe to %s failed: %s", topic, mqtt.error_string(result))
            else:
                self._subscribing[mid] = topic
        if self.status_topic:
            client.publish(self.status_topic, b"online", qos=1, retain=True)
        self.connected.set()
        # paho resends the messages that were in flight at the disconnect right after this
        # callback returns; the buffered ones are newer, so they go after (not from here)
        threading.Thread(target=self._send_buffer_after_resend, args=(self.connects,), name="mqtt-buffer",
                         daemon=True).start()
        if self._on_state:
            self._on_state(True)

    def _send_buffer_after_resend(self, connection: int, timeout: float = 5.0) -> None:
        """Send the messages kept while disconnected once paho has resent the older ones that
        were in flight at the disconnect (so that every topic keeps its order), then let
        publishes go straight to paho."""
        deadline = time.monotonic() + timeout
        while resend_pending(self._client) and time.monotonic() < deadline:
            time.sleep(0.001)
        with self._publish_lock:
            if connection != self.connects or not self.connected.is_set():
                return  # disconnected meanwhile: the next connection sends them
            if self._buffer:
                log.info("sending %d message(s) kept while disconnected (%d dropped)", len(self._buffer),
                         self.buffer_drops)
            while self._buffer:
                self._send(*self._buffer.popleft())
            self._direct = True

    def _handle_disconnect(self, _client, _userdata, _flags, reason_code, _properties) -> None:
        with self._publish_lock:
            was = self.connected.is_set()
            self.connected.clear()
            self._direct = False
        if not was and not self._stopping:  # before CONNACK: a TLS alert, or the broker hung up
            self.connect_failures.failed()
        elif was and not self._stopping:
            log.warning("disconnected from %s (%s); reconnecting with backoff", self.settings.broker, reason_code)
        if self._on_state:
            self._on_state(False)

    def _handle_subscribe(self, _client, _userdata, mid: int, reason_codes, _properties) -> None:
        topic = self._subscribing.pop(mid, None)
        if topic is None:
            return
        refused = [code for code in reason_codes if code.is_failure]
        if refused:
            self.refused_subscriptions[topic] = str(refused[0])
            log.error("the broker refused the subscription to %s: %s (check its ACL); not ready", topic, refused[0])
        else:
            self.refused_subscriptions.pop(topic, None)
            self._granted.add(topic)

    def _handle_publish(self, _client, _userdata, _mid: int, reason_code, _properties) -> None:
        if reason_code.is_failure:  # an MQTT 5 PUBACK/PUBREC reason >= 0x80, e.g. "Not authorized"
            self.refused_by_broker = str(reason_code)
            self._publish_failed("(acknowledged message)", f"the broker refused it: {reason_code}")
        else:
            self.refused_by_broker = None
            self.last_publish_ok = time.time()

    @property
    def subscribed(self) -> bool:
        """Every subscription of the last connection was granted by the broker."""
        return {topic for topic, _ in self.subscriptions} <= self._granted

    def _handle_message(self, _client, _userdata, message: mqtt.MQTTMessage) -> None:
        if self._on_message is None:
            return
        try:
            topic = message.topic
        except UnicodeDecodeError:  # brokers should refuse these; never let one kill the loop
            topic = ""
        try:
            if self.manual_ack:
                self._on_message(topic, message.payload, Delivery(self.connects, message.mid, message.qos, bool(message.dup)))
            else:
                self._on_message(topic, message.payload)
        except Exception:  # an exception here would stop paho's network loop
            self.callback_errors += 1
            self._callback_error(f"message callback failed on topic {topic[:128]!r}")
