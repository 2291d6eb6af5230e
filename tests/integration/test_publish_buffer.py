"""Publishing never wedges: forecasts made while the broker is away wait in a bounded buffer
and all go out, in order, when it is back (a real Mosquitto, stopped and started)."""

from __future__ import annotations

import threading
import time

from mqtt_broker import Broker

from forecaster.serve.mqtt_client import MqttClient
from forecaster.serve.mqtt_settings import BrokerAddress, MqttSettings


class Sink:
    """A subscriber with a persistent session: what is published while it reconnects waits for it."""

    def __init__(self, url: str) -> None:
        self.payloads: list[bytes] = []
        self._lock = threading.Lock()
        settings = MqttSettings(broker=BrokerAddress.parse(url), client_id="sink", persistent=True, reconnect_max=1)
        self.client = MqttClient(settings, subscriptions=[("out/#", 1)], on_message=self._add)
        self.client.start()
        assert self.client.wait_connected(10)
        time.sleep(0.3)  # the SUBACK

    def _add(self, _topic: str, payload: bytes) -> None:
        with self._lock:
            self.payloads.append(payload)

    def wait_for(self, count: int, timeout: float = 90.0, *, skip: bytes = b"") -> list[bytes]:
        """The payloads received once ``count`` of them (other than ``skip``) arrived, or at the timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.kept(skip)) < count:
            time.sleep(0.1)
        return self.kept(skip)

    def kept(self, skip: bytes) -> list[bytes]:
        with self._lock:
            return [p for p in self.payloads if p != skip]


def publisher(url: str, buffer_size: int) -> MqttClient:
    settings = MqttSettings(broker=BrokerAddress.parse(url), client_id=f"pub-{buffer_size}", reconnect_max=1)
    client = MqttClient(settings, buffer_size=buffer_size)
    client.start()
    assert client.wait_connected(10)
    return client


def wait_down(client: MqttClient, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while client.connected.is_set() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not client.connected.is_set()


def test_more_than_4096_forecasts_made_during_an_outage_all_arrive_after_it(tmp_path):
    broker = Broker(tmp_path / "broker", persistence=True).start()
    sink = Sink(broker.url)
    pub = publisher(broker.url, buffer_size=10_000)
    try:
        assert pub.publish("out/t1", b"before", qos=1)
        broker.stop()
        wait_down(pub)
        # the old client kept these in paho with rc NO_CONN; past 4,096 every publish raised
        sent = [pub.publish("out/t1", str(i).encode(), qos=1) for i in range(5000)]
        assert all(sent) and pub.buffered == 5000 and pub.buffer_drops == 0
        assert pub.publish("out/t1", b"qos0", qos=0) is False  # QoS 0 is not kept
        broker.start()
        # QoS 1 is at least once: "before" may come twice (the broker stopped before the sink's ack)
        assert sink.wait_for(5000, skip=b"before") == [str(i).encode() for i in range(5000)]
        assert b"before" in sink.payloads
        assert pub.buffered == 0 and pub.publish_failures == 0
        # and publishing goes on as usual afterwards (past the prune threshold)
        assert all(pub.publish("out/t1", b"after", qos=1) for _ in range(10))
        assert pub.flush(30)
    finally:
        pub.stop()
        sink.client.stop()
        broker.kill()


def test_a_full_buffer_drops_the_oldest_and_counts_them(tmp_path):
    broker = Broker(tmp_path / "broker", persistence=True).start()
    sink = Sink(broker.url)
    pub = publisher(broker.url, buffer_size=100)
    try:
        broker.stop()
        wait_down(pub)
        assert all(pub.publish("out/t2", str(i).encode(), qos=1) for i in range(150))
        assert pub.buffered == 100 and pub.buffer_drops == 50
        broker.start()
        assert sink.wait_for(100) == [str(i).encode() for i in range(50, 150)]
    finally:
        pub.stop()
        sink.client.stop()
        broker.kill()
