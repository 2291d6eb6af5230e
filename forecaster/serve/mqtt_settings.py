"""Where the broker is and how to connect: `BrokerAddress` and `MqttSettings`, validated
frozen dataclasses (no paho here; `forecaster.serve.mqtt_client` uses them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from pipelines.errors import ForecasterError

SCHEMES = {"mqtt": (False, 1883), "tcp": (False, 1883), "mqtts": (True, 8883), "ssl": (True, 8883)}
PROTOCOL_NAMES = ("5", "3.1.1")


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
        if self.protocol not in PROTOCOL_NAMES:
            raise ForecasterError(f"`protocol` must be one of {list(PROTOCOL_NAMES)}. Received: protocol={self.protocol!r}")
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
