"""The paho adapter against a real Mosquitto: both protocol versions, status and will."""

from __future__ import annotations

import pytest
from mqtt_broker import Collector

from pipelines.errors import ForecasterError
from pipelines.mqtt_source import BrokerAddress, MqttClient, MqttSettings


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
