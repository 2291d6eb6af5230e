"""The naive daemon that `serve_latency.py` compares against: Keras `model.predict` per message.

What a first version of such a daemon usually looks like: the MQTT callback parses the
reading, pushes it into the sensor's window and, when the window is full, calls
``model.predict`` on that one window and publishes. Same parsing, windows, scaling and
payloads as `forecaster serve`; only the inference call and its placement differ.

    python benchmarks/naive_daemon.py BUNDLE BROKER_URL
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(bundle: str, url: str) -> int:
    import numpy as np

    from forecaster.model import Forecaster
    from forecaster.service import forecast_payload
    from pipelines.mqtt_source import BrokerAddress, MqttClient, MqttSettings
    from pipelines.payloads import ParseRules, Rejection, parse_message
    from pipelines.stream import WindowRegistry
    from pipelines.timeutil import step_of

    model = Forecaster.load(bundle)
    spec = model.spec
    step_ns = step_of(model.freq_).value
    rules = ParseRules(subscription="sensors/+/readings", features=spec.features)
    windows = WindowRegistry(length=spec.input_steps, n_columns=len(spec.features), step_ns=step_ns, max_gap=model.max_gap)
    box: list[MqttClient] = []

    def on_message(topic: str, payload: bytes) -> None:
        item = parse_message(topic, payload, rules)
        if isinstance(item, Rejection):
            return
        window = windows.get(item.sensor)
        try:
            completed = window.push(item.ts, item.values)
        except ValueError:
            return
        if completed:
            scaled = model.scaler_.transform(completed[-1][None], spec.feature_index).astype("float32")
            raw = model.model_.predict(scaled, verbose=0)  # the naive call: one window per call
            forecast = model.scaler_.inverse_transform(raw, spec.target_index)[0]
            body = forecast_payload(item.sensor, int(window.last_slot), np.asarray(forecast), step_ns=step_ns,
                                    freq=model.freq_, model=model.name, targets=list(spec.targets))
            box[0].publish(f"forecasts/{item.sensor}", body, 1)

    settings = MqttSettings(broker=BrokerAddress.parse(url), client_id="naive-daemon")
    client = MqttClient(settings, subscriptions=[("sensors/+/readings", 1)], on_message=on_message,
                        status_topic="forecaster/naive-daemon/status")
    box.append(client)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    client.start()
    while not stop.wait(0.2):
        pass
    client.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1], sys.argv[2]))
