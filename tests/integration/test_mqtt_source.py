"""The paho adapter against a real Mosquitto: both protocol versions, status and will."""

from __future__ import annotations

import time

import pytest
from mqtt_broker import Collector

from forecaster.serve.mqtt_client import MqttClient
from forecaster.serve.mqtt_settings import BrokerAddress, MqttSettings
from pipelines.errors import ForecasterError


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_publish_subscribe_and_status(broker, protocol):
    got = Collector(broker.url, "t/#", client_id=f"c-{protocol}")
    settings = MqttSettings(broker=BrokerAddress.parse(broker.url), client_id=f"p-{protocol}", protocol=protocol)
    client = MqttClient(settings, status_topic="t/status")
    client.start()
    assert client.wait_connected(10)
    assert client.publish("t/x", b"1.5", qos=1) and client.flush(10)
    client.stop()
    assert got.wait_for(lambda m: [(t, p) for t, p, _ in m][-2:] == [("t/x", b"1.5"), ("t/status", b"offline")], 10)
    got.close()


def test_a_client_without_network_thread_publishes_from_the_calling_thread(broker):
    got = Collector(broker.url, "t/#", client_id="inline-watch")
    client = MqttClient(MqttSettings(broker=BrokerAddress.parse(broker.url), client_id="inline"))
    client.start(background=False)
    for _ in range(100):
        if client.connected.is_set():
            break
        client.poll(0.05)
    assert client.connected.is_set() and client._client._thread is None
    for k in range(300):  # more than the 256 QoS 1 messages in flight: poll frees the slots
        assert client.publish("t/n", str(k).encode(), qos=1)
        if k % 64 == 0:
            client.poll(0)
    for _ in range(100):
        client.poll(0.02)
        if len(got.messages) == 300:
            break
    assert [int(p) for _, p, _ in got.messages] == list(range(300))
    client.stop()
    got.close()


def test_incoming_pending_sees_a_waiting_message(broker):
    client = MqttClient(MqttSettings(broker=BrokerAddress.parse(broker.url), client_id="pending"),
                        subscriptions=[("p/x", 0)])
    client.start(background=False)
    for _ in range(100):
        if client.connected.is_set():
            break
        client.poll(0.05)
    for _ in range(10):  # SUBACK (paho reads one packet per poll)
        client.poll(0.05)
    assert not client.incoming_pending()
    sender = MqttClient(MqttSettings(broker=BrokerAddress.parse(broker.url), client_id="pending-sender"))
    sender.start()
    assert sender.wait_connected(10) and sender.publish("p/x", b"1", qos=1) and sender.flush(10)
    deadline = 50
    while not client.incoming_pending() and deadline:
        deadline -= 1
        time.sleep(0.02)
    assert client.incoming_pending()
    sender.stop()
    client.stop()


def test_last_will_says_offline_when_the_daemon_dies(broker):
    got = Collector(broker.url, "t/status", client_id="will-watch")
    client = MqttClient(MqttSettings(broker=BrokerAddress.parse(broker.url), client_id="dies", keepalive=1),
                        status_topic="t/status")
    client.start()
    assert client.wait_connected(10) and got.wait_for(lambda m: m and m[-1][1] == b"online", 10)
    client._client.socket().close()  # the connection drops without a DISCONNECT: the broker sends the will
    assert got.wait_for(lambda m: any(p == b"offline" for _, p, _ in m), 10)
    client.stop()
    got.close()


@pytest.mark.parametrize(("url", "message"), [("ws://h", "mqtt://HOST:PORT"), ("mqtt://h/x", "path"), ("mqtt://:1", "no host"),
                                              ("mqtt://h:99999", "bad port")])
def test_bad_broker_urls(url, message):
    with pytest.raises(ForecasterError, match=message):
        BrokerAddress.parse(url)
