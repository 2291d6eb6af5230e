"""`/readyz` tells the truth: a broker that refuses the subscription or the forecasts' topic
(MQTT 5 "Not authorized") makes the daemon not ready, with a log line and a metric (a real
Mosquitto with its dynamic-security plugin)."""

from __future__ import annotations

import logging
import threading

from helpers import wait_until
from mqtt_broker import Broker, free_port
from serve_support import good_payload, http_get, publisher, scrape

from forecaster.serve.config import ServeConfig
from forecaster.serve.daemon import Daemon
from forecaster.serve.mqtt_settings import BrokerAddress, MqttSettings

STATUS = "forecaster/acl-daemon/status"


def start_daemon(model, url: str) -> tuple[Daemon, threading.Event, threading.Thread, int]:
    port = free_port()
    settings = MqttSettings(broker=BrokerAddress.parse(url), client_id="acl-daemon", reconnect_max=2)
    config = ServeConfig(bundle="(in memory)", mqtt=settings, status_topic=STATUS, metrics_port=port)
    daemon, stop = Daemon(config, model), threading.Event()
    thread = threading.Thread(target=daemon.run_until, args=(stop,), name="acl-daemon")
    thread.start()
    return daemon, stop, thread, port



def readyz(port: int) -> int:
    return http_get(f"http://127.0.0.1:{port}/readyz")[0]


def test_a_refused_subscription_means_not_ready(tmp_path, tiny_model, caplog):
    broker = Broker(tmp_path / "b", deny=[("subscribePattern", "sensors/#")]).start()
    daemon, stop, thread, port = start_daemon(tiny_model, broker.url)
    try:
        with caplog.at_level(logging.ERROR, logger="forecaster.serve.mqtt_client"):
            assert wait_until(lambda: daemon.client.connected.is_set() and daemon.client.refused_subscriptions)
        assert "refused the subscription to sensors/+/readings" in caplog.text
        assert readyz(port) == 503
        assert scrape(port)[("forecaster_subscriptions_refused", ())] == 1
    finally:
        stop.set()
        thread.join(15)
        broker.kill()


def test_refused_forecasts_mean_not_ready(tmp_path, tiny_model, ett_small, caplog):
    broker = Broker(tmp_path / "b", deny=[("publishClientSend", "forecasts/#")]).start()
    daemon, stop, thread, port = start_daemon(tiny_model, broker.url)
    sensor = publisher(broker.url)
    try:
        assert wait_until(lambda: readyz(port) == 200)  # subscribed, status published: ready
        with caplog.at_level(logging.ERROR, logger="forecaster.serve.mqtt_client"):
            for i in range(tiny_model.spec.input_steps + 2):  # a full window, then forecasts to forecasts/t1
                sensor.publish("sensors/t1/readings", good_payload(ett_small, i), qos=1)
            assert wait_until(lambda: daemon.client.refused_by_broker is not None)
        assert "the broker refused it" in caplog.text and "Not authorized" in caplog.text
        assert readyz(port) == 503
        assert scrape(port)[("forecaster_publish_refused_total", ())] >= 1
    finally:
        sensor.stop()
        stop.set()
        thread.join(15)
        broker.kill()


def test_a_broker_that_refuses_nothing_of_ours_is_ready(tmp_path, tiny_model):
    broker = Broker(tmp_path / "b", deny=[("subscribePattern", "elsewhere/#")]).start()
    daemon, stop, thread, port = start_daemon(tiny_model, broker.url)
    try:
        assert wait_until(lambda: readyz(port) == 200)
        assert daemon.client.subscribed and not daemon.client.refused_subscriptions
    finally:
        stop.set()
        thread.join(15)
        broker.kill()
