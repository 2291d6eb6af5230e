"""The daemon's fast paths: warmed up before traffic, and the LiteRT runtime gives Keras' forecasts."""

from __future__ import annotations

import json
import shutil

import numpy as np
from mqtt_broker import Collector
from serve_support import DaemonThread, good_payload, publisher

import forecaster
from forecaster.nn.inference import BUCKETS

LAST = "2016-07-02T05:00:00Z"  # the 30th hour of ETTh1


def issued(message: tuple) -> str | None:
    topic, payload = message[0], message[1]
    return json.loads(payload).get("issued_at") if topic.startswith("forecasts/") else None


def test_daemon_warms_every_batch_size_before_it_is_ready(broker, tiny_bundle):
    model = forecaster.load(tiny_bundle)
    daemon = DaemonThread(model, broker.url, client_id="warm-daemon")
    try:
        assert model.predictor._compiled >= set(BUCKETS)
    finally:
        assert daemon.close() == 0


def test_tflite_runtime_serves_the_keras_forecast(broker, tiny_bundle, ett_small, tmp_path):
    from forecaster.export import export_tflite

    bundle = shutil.copytree(tiny_bundle, tmp_path / "b")
    export_tflite(bundle)
    edge = forecaster.Forecaster.load(bundle, runtime="tflite")
    collector = Collector(broker.url, "forecasts/#", client_id="edge-collector")
    daemon = DaemonThread(edge, broker.url, client_id="edge-daemon", runtime="tflite")
    sensor = publisher(broker.url, "edge-sensor")
    try:
        rows = ett_small.iloc[:30]
        for i in range(len(rows)):
            sensor.publish("sensors/e1/readings", good_payload(rows, i), qos=1)
        # the forecast of the last reading (earlier ones may be superseded within a batch)
        assert collector.wait_for(lambda msgs: any(issued(m) == LAST for m in msgs), timeout=30)
    finally:
        sensor.stop()
        assert daemon.close() == 0
        collector.close()
    last = json.loads(next(m[1] for m in collector.messages if issued(m) == LAST))
    expected = forecaster.load(tiny_bundle).predict(rows)
    assert last["issued_at"] == "2016-07-02T05:00:00Z"
    np.testing.assert_allclose([step["OT"] for step in last["forecast"]], expected["OT"], atol=1e-4)
