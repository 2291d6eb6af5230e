"""paho-mqtt's side of `forecaster.serve.mqtt_client`: building a configured paho client, and
reading the state of its messages (paho is imported only here and there)."""

from __future__ import annotations

import ssl

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from forecaster.serve.mqtt_settings import MqttSettings

PROTOCOLS = {"5": mqtt.MQTTv5, "3.1.1": mqtt.MQTTv311}  # the names MqttSettings.protocol takes


def resend_pending(client: mqtt.Client) -> bool:
    """True while paho still has QoS 1/2 messages of an earlier connection to resend.

    paho has no public hook for "resent after reconnect", so this reads its outgoing message
    table (under paho's own lock, without changing it); without that table it answers False.
    """
    mutex, messages = getattr(client, "_out_message_mutex", None), getattr(client, "_out_messages", None)
    if mutex is None or messages is None:
        return False
    with mutex:
        return any(m.qos > 0 and m.state == mqtt.mqtt_ms_publish for m in messages.values())


def settled(info: mqtt.MQTTMessageInfo) -> bool:
    """True when nothing more will happen to a publish: acknowledged, or failed for good.

    paho's ``is_published`` raises for a message queued while the connection was down
    (``rc`` stays ``MQTT_ERR_NO_CONN`` even after paho resends it), which once made every
    later publish raise: such a message is read by its flag instead.
    """
    try:
        return info.is_published()
    except (RuntimeError, ValueError):
        return info._published or info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN)


def paho_client(settings: MqttSettings, status_topic: str | None) -> mqtt.Client:
    """A paho client set up from ``settings``: protocol, session, in-flight window, credentials,
    TLS, the ``offline`` last will and the reconnect backoff (callbacks are the caller's)."""
    v5 = settings.protocol == "5"
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=settings.client_id,
        protocol=PROTOCOLS[settings.protocol],
        clean_session=None if v5 else not settings.persistent,
        reconnect_on_failure=True,
    )
    client.max_inflight_messages_set(256)
    client.max_queued_messages_set(0)  # unbounded: the daemon bounds its own queue
    if settings.username is not None:
        client.username_pw_set(settings.username, settings.password)
    if settings.broker.tls:
        client.tls_set(
            ca_certs=settings.ca_file, certfile=settings.cert_file, keyfile=settings.key_file,
            cert_reqs=ssl.CERT_NONE if settings.insecure else ssl.CERT_REQUIRED,
        )
        if settings.insecure:
            client.tls_insecure_set(True)
    if status_topic:
        client.will_set(status_topic, b"offline", qos=1, retain=True)
    client.reconnect_delay_set(settings.reconnect_min, settings.reconnect_max)
    return client
