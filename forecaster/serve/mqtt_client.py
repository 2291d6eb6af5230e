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
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from pipelines.errors import ForecasterError

log = logging.getLogger(__name__)

SCHEMES = {"mqtt": (False, 1883), "tcp": (False, 1883), "mqtts": (True, 8883), "ssl": (True, 8883)}
PROTOCOLS = {"5": mqtt.MQTTv5, "3.1.1": mqtt.MQTTv311}
PRUNE_PENDING_AT = 4096  # QoS > 0 messages tracked for `flush` before acknowledged ones are dropped


@dataclass(frozen=True)
class BrokerAddress:
    """Where the broker is.

    Example:
        >>> BrokerAddress.parse("mqtts://broker.example:8884")
        BrokerAddress(host='broker.example', port=8884, tls=True)
        >>> BrokerAddress.parse("mqtt://127.0.0.1").port
        1883
        >>> BrokerAddress.parse("mqtt://user:secret@h")
        Traceback (most recent call last):
        ...
        pipelines.errors.ForecasterError: `broker` must not hold credentials (they would show in `ps`); use the config file, FORECASTER_*_PASSWORD or --password-file
    """

    host: str
    port: int
    tls: bool

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        """Parse ``mqtt://HOST[:PORT]`` or ``mqtts://HOST[:PORT]``.

        Raises:
            ForecasterError: another scheme, no host, a bad port, credentials or a path.
        """
        parts = urlsplit(url.strip())
        if parts.scheme not in SCHEMES:
            raise ForecasterError(f"`broker` must look like mqtt://HOST:PORT or mqtts://HOST:PORT. Received: broker={url!r}")
        if parts.username is not None or parts.password is not None:
            raise ForecasterError(
                "`broker` must not hold credentials (they would show in `ps`); use the config file, "
                "FORECASTER_*_PASSWORD or --password-file"
            )
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ForecasterError(f"`broker` must not have a path or query. Received: broker={url!r}")
        try:
            port = parts.port
        except ValueError:
            raise ForecasterError(f"`broker` has a bad port. Received: broker={url!r}") from None
        if not parts.hostname:
            raise ForecasterError(f"`broker` has no host. Received: broker={url!r}")
        tls, default_port = SCHEMES[parts.scheme]
        return cls(host=parts.hostname, port=port or default_port, tls=tls)

    def __str__(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


@dataclass(frozen=True)
class MqttSettings:
    """How to connect.

    Args:
        broker: the broker address.
        client_id: the MQTT client id (must be fixed for a persistent session).
        protocol: ``"5"`` or ``"3.1.1"``.
        username, password: credentials (None: anonymous).
        ca_file, cert_file, key_file: TLS trust and client certificate (mqtts only).
        insecure: skip the broker's certificate and host name checks (mqtts only; tests).
        keepalive: seconds between pings when idle.
        persistent: keep the session (subscriptions and queued QoS>0 messages) while away.
        session_expiry: seconds the broker keeps a persistent session (MQTT 5).
        reconnect_min, reconnect_max: reconnect backoff bounds in seconds.

    Example:
        >>> MqttSettings(broker=BrokerAddress.parse("mqtt://h"), client_id="c", protocol="4")
        Traceback (most recent call last):
        ...
        pipelines.errors.ForecasterError: `protocol` must be one of ['5', '3.1.1']. Received: protocol='4'
    """

    broker: BrokerAddress
    client_id: str
    protocol: str = "5"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    insecure: bool = False
    keepalive: int = 30
    persistent: bool = False
    session_expiry: int = 3600
    reconnect_min: int = 1
    reconnect_max: int = 30

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise ForecasterError(f"`protocol` must be one of {list(PROTOCOLS)}. Received: protocol={self.protocol!r}")
        if not self.client_id or len(self.client_id) > 128:
            raise ForecasterError(f"`client_id` must be 1 to 128 characters. Received: client_id={self.client_id!r}")
        if not self.broker.tls and (self.ca_file or self.cert_file or self.key_file or self.insecure):
            raise ForecasterError("TLS options (CA, certificate, key, insecure) need an mqtts:// broker")
        if bool(self.cert_file) != bool(self.key_file):
            raise ForecasterError("a client certificate needs both `cert_file` and `key_file`")
        if self.password is not None and self.username is None:
            raise ForecasterError("a password needs a `username`")
        for name in ("keepalive", "session_expiry", "reconnect_min", "reconnect_max"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ForecasterError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
        if self.reconnect_max < self.reconnect_min:
            raise ForecasterError("`reconnect_max` must be at least `reconnect_min`")


class MqttClient:
    """A connected MQTT client that keeps itself connected.

    Args:
        settings: connection settings.
        subscriptions: ``(topic filter, qos)`` pairs, (re)subscribed on every connect.
        on_message: ``(topic, payload)`` callback; runs in paho's network thread, so it must
            be quick (no other message is read meanwhile).
        status_topic: retained ``online`` after each connect; ``offline`` as last will and
            on `stop`. None: no status.
        on_state: called with True/False when the connection comes up or goes down.
    """

    def __init__(
        self,
        settings: MqttSettings,
        *,
        subscriptions: Sequence[tuple[str, int]] = (),
        on_message: Callable[[str, bytes], None] | None = None,
        status_topic: str | None = None,
        on_state: Callable[[bool], None] | None = None,
    ) -> None:
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
        v5 = settings.protocol == "5"
        self._client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=settings.client_id,
            protocol=PROTOCOLS[settings.protocol],
            clean_session=None if v5 else not settings.persistent,
            reconnect_on_failure=True,
        )
        self._client.enable_logger(logging.getLogger("paho"))
        self._client.max_inflight_messages_set(256)
        self._client.max_queued_messages_set(0)  # unbounded: the daemon bounds its own queue
        if settings.username is not None:
            self._client.username_pw_set(settings.username, settings.password)
        if settings.broker.tls:
            self._client.tls_set(
                ca_certs=settings.ca_file, certfile=settings.cert_file, keyfile=settings.key_file,
                cert_reqs=ssl.CERT_NONE if settings.insecure else ssl.CERT_REQUIRED,
            )
            if settings.insecure:
                self._client.tls_insecure_set(True)
        if status_topic:
            self._client.will_set(status_topic, b"offline", qos=1, retain=True)
        self._client.reconnect_delay_set(settings.reconnect_min, settings.reconnect_max)
        self._client.on_connect = self._handle_connect
        self._client.on_disconnect = self._handle_disconnect
        self._client.on_message = self._handle_message

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
            if s.persistent:
                clean_start = False
                properties = Properties(PacketTypes.CONNECT)
                properties.SessionExpiryInterval = s.session_expiry
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
        """Queue one message (thread-safe). False when it was dropped.

        While disconnected, QoS 1 and 2 messages wait in paho's queue and go out after the
        reconnect (True); QoS 0 messages are dropped (False).
        """
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if qos > 0:
            with self._pending_lock:
                if len(self._pending) >= self._prune_at:
                    # drop the acknowledged ones; prune again only when the list has doubled, so
                    # that thousands of unacknowledged forecasts (a saturated daemon) do not
                    # make every publish scan them (measured: capped serve at ~1,200 forecasts/s)
                    self._pending = [i for i in self._pending if not i.is_published()]
                    self._prune_at = max(PRUNE_PENDING_AT, 2 * len(self._pending))
                self._pending.append(info)
        return info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS or (qos > 0 and info.rc == MQTTErrorCode.MQTT_ERR_NO_CONN)

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
        """Wait until every QoS > 0 message published so far is acknowledged; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._pending_lock:
            pending, self._pending = self._pending, []
        for info in pending:
            left = deadline - time.monotonic()
            try:
                info.wait_for_publish(max(left, 0.001))
            except (RuntimeError, ValueError):  # dropped from paho's queue
                return False
            if not info.is_published():
                return False
        return True

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
            log.error("broker %s refused the connection: %s", self.settings.broker, reason_code)
            return
        self.connects += 1
        sock = client.socket()
        if sock is not None and hasattr(sock, "setsockopt"):
            # paho leaves Nagle on: small forecasts would wait for the broker's delayed ACK (~40 ms)
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        log.info("connected to %s as %s (connection %d)", self.settings.broker, self.settings.client_id, self.connects)
        for topic, qos in self.subscriptions:
            result, _ = client.subscribe(topic, qos=qos)
            if result != MQTTErrorCode.MQTT_ERR_SUCCESS:
                log.error("subscribe to %s failed: %s", topic, mqtt.error_string(result))
        if self.status_topic:
            client.publish(self.status_topic, b"online", qos=1, retain=True)
        self.connected.set()
        if self._on_state:
            self._on_state(True)

    def _handle_disconnect(self, _client, _userdata, _flags, reason_code, _properties) -> None:
        was = self.connected.is_set()
        self.connected.clear()
        if was and not self._stopping:
            log.warning("disconnected from %s (%s); reconnecting with backoff", self.settings.broker, reason_code)
        if self._on_state:
            self._on_state(False)

    def _handle_message(self, _client, _userdata, message: mqtt.MQTTMessage) -> None:
        if self._on_message is None:
            return
        try:
            topic = message.topic
        except UnicodeDecodeError:  # brokers should refuse these; never let one kill the loop
            topic = ""
        try:
            self._on_message(topic, message.payload)
        except Exception:  # an exception here would stop paho's network loop
            log.exception("message callback failed on topic %r", topic[:128])
