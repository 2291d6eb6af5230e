"""The daemon's outputs on a real broker: InfluxDB line protocol (``--output-format influx``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from line_protocol import parse_payload
from mqtt_broker import Collector
from serve_support import DaemonThread, good_payload, publisher

from forecaster.cli.app import main

HOUR = pd.Timedelta("1h").value


def window_forecast(model, rows: pd.DataFrame) -> np.ndarray:
    """`Forecaster.predict_windows` on the window that ends with the last of ``rows``."""
    window = rows[list(model.spec.features)].to_numpy(dtype="float64")[-model.spec.input_steps:]
    return model.predict_windows(window[None])[0]


def test_influx_lines_on_the_wire_are_the_forecast_of_predict_windows(broker, tiny_model, ett_small):
    sensor = "hall 2,floor=1"  # a space, a comma and an equals sign: all escaped in the tag
    rows = ett_small.iloc[:30]
    last_ts = pd.Timestamp(rows["date"].iloc[-1]).value  # UTC
    collector = Collector(broker.url, "forecasts/#", client_id="influx-collector")
    daemon = DaemonThread(tiny_model, broker.url, client_id="influx-daemon", output_format="influx")
    source = publisher(broker.url, "influx-sensor")

    def final(messages) -> bool:  # the forecast issued at the last reading (earlier ones may be superseded)
        return any(ts == last_ts + HOUR and tags["step"] == "1" for _, p, _ in messages for _, tags, _, ts in parse_payload(p))

    try:
        for i in range(len(rows)):
            source.publish(f"sensors/{sensor}/readings", good_payload(rows, i), qos=1)
        assert collector.wait_for(final, timeout=30)
    finally:
        source.stop()
        assert daemon.close() == 0
        collector.close()
    topic, payload, _ = next(m for m in collector.messages if final([m]))
    assert topic == f"forecasts/{sensor}"
    points = parse_payload(payload)
    expected = window_forecast(tiny_model, rows)  # (horizon, n_targets)
    horizon, targets = tiny_model.spec.horizon, list(tiny_model.spec.targets)
    assert len(points) == horizon * len(targets)
    for measurement, tags, fields, ts in points:
        step, target = int(tags["step"]), tags["target"]
        assert measurement == "forecast"
        assert tags == {"model": tiny_model.name, "sensor": sensor, "step": str(step), "target": target}
        assert ts == last_ts + step * HOUR
        np.testing.assert_allclose(fields["value"], expected[step - 1, targets.index(target)], rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize(("args", "message"), [
    (["--output-format", "xml"], "'xml' is not one of 'json', 'influx'"),
])
def test_bad_output_options_are_one_line_and_exit_2(args, message, capsys, tmp_path):
    assert main(["serve", "--model", str(tmp_path / "none"), *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err

