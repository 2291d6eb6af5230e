"""The naive daemon that `serve_latency.py` compares against: Keras `model.predict` per message.

What a first version of such a daemon usually looks like: the MQTT callback parses the
reading, pushes it into the sensor's window and, when the window is full, calls
``model.predict`` on that one window and publishes. Same parsing, windows, scaling and
payloads as `forecaster serve`; only the inference call and its placement differ.

    python benchmarks/naive_daemon.py BUNDLE BROKER_URL
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import serve_readings  # noqa: E402


def main(bundle: str, url: str) -> int:
    import numpy as np

    from forecaster.model import Forecaster
    from forecaster.serve.formats import forecast_payload
    from pipelines.payloads import ParseRules, Rejection, parse_message
    from pipelines.stream import WindowRegistry
    from pipelines.timeutil import step_of

    model = Forecaster.load(bundle)
    spec = model.spec
    step_ns = step_of(model.freq_).value
    rules = ParseRules(subscription="sensors/+/readings", features=spec.features)
    windows = WindowRegistry(length=spec.input_steps, n_columns=len(spec.features), step_ns=step_ns, max_gap=model.max_gap)

    def on_message(client, topic: str, payload: bytes) -> None:
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
            client.publish(f"forecasts/{item.sensor}", body, 1)

    return serve_readings(url, "naive-daemon", on_message, status_topic="forecaster/naive-daemon/status")


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1], sys.argv[2]))
