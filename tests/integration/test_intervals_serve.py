"""Issue 21: the daemon publishes the prediction intervals, the same as `predict --interval`
(stream = batch), in the JSON and the Influx output, through a real Mosquitto."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import DATA, ETT_COLUMNS, ROOT
from line_protocol import parse_line
from mqtt_broker import Collector, free_port
from serve_support import DaemonThread, forecasts, good_payload, publisher, wait_ready

from forecaster.cli import main

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def replay_csv(tmp_path_factory) -> Path:
    """Two sensors, one with a 2-hour gap (interpolated)."""
    lines = (DATA / "ett_two_transformers.csv").read_text().splitlines()
    h1 = lines[1:61]
    del h1[40:42]
    h2 = [line for line in lines if line.startswith("etth2,")][:50]
    path = tmp_path_factory.mktemp("replay") / "two.csv"
    path.write_text("\n".join([lines[0], *h1, *h2]) + "\n")
    return path


def test_the_daemon_publishes_the_bands_of_predict_interval(broker, tiny_bundle, replay_csv, tmp_path):
    collector = Collector(broker.url, "forecasts/#")
    port = free_port()
    serve = subprocess.Popen(
        [sys.executable, "-m", "forecaster", "serve", "--model", str(tiny_bundle), "--broker", broker.url,
         "--client-id", "test-bands", "--metrics-port", str(port), "--interval", "0.95", "--interval", "0.8,0.95"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        wait_ready(port, process=serve)
        replay = subprocess.run(
            [sys.executable, "-m", "forecaster", "replay", "--data", str(replay_csv), "--broker", broker.url,
             "--topic", "sensors/{sensor}/readings"], cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert replay.returncode == 0, replay.stderr
        last = {"etth1": "2016-07-03T11:00:00Z", "etth2": "2016-07-03T01:00:00Z"}
        assert collector.wait_for(lambda m: all(any(f["issued_at"] == t for f in map(
            json.loads, (p for tp, p, _ in m if tp == f"forecasts/{s}"))) for s, t in last.items()), timeout=60)
        for level in ("0.8", "0.95"):
            out = tmp_path / f"predict-{level}.csv"
            assert main(["predict", "--model", str(tiny_bundle), "--data", str(replay_csv), "--out", str(out),
                         "--interval", level]) == 0
            expected = pd.read_csv(out)
            for sensor, issued in last.items():
                got = next(f for f in forecasts(collector, sensor) if f["issued_at"] == issued)["forecast"]
                want = expected[expected["sensor"] == sensor]
                assert [f["ts"] for f in got] == want["ts"].tolist()
                assert sorted(got[0]["lo"]) == ["0.8", "0.95"]  # each level once, as a key
                np.testing.assert_allclose([f["OT"] for f in got], want["OT"], rtol=0, atol=1e-5)
                np.testing.assert_allclose([f["lo"][level]["OT"] for f in got], want["OT_lo"], rtol=0, atol=1e-5)
                np.testing.assert_allclose([f["hi"][level]["OT"] for f in got], want["OT_hi"], rtol=0, atol=1e-5)
    finally:
        serve.terminate()
        serve.communicate(timeout=30)
        collector.close()


def test_influx_lines_carry_the_bands_as_fields(broker, tiny_model, ett_small):
    collector = Collector(broker.url, "forecasts/#")
    daemon = DaemonThread(tiny_model, broker.url, output_format="influx", intervals=(0.95,))
    sensor = publisher(broker.url)
    try:
        for i in range(24):
            sensor.publish("sensors/x1/readings", good_payload(ett_small, i), qos=1)
        assert collector.wait_for(lambda m: len(m) >= 1, timeout=30)
        lines = [parse_line(line)[2] for line in collector.messages[0][1].decode().splitlines()]
        window = ett_small[ETT_COLUMNS].to_numpy()[None, :24]
        forecast = tiny_model.predict_windows(window)
        lo, hi = tiny_model.interval_bounds(window, forecast, 0.95)
        assert len(lines) == 6 and set(lines[0]) == {"value", "lo_0.95", "hi_0.95"}
        np.testing.assert_allclose([line["lo_0.95"] for line in lines], lo[0, :, 0], rtol=0, atol=1e-5)
        np.testing.assert_allclose([line["hi_0.95"] for line in lines], hi[0, :, 0], rtol=0, atol=1e-5)
    finally:
        sensor.stop()
        daemon.close()
        collector.close()


def test_serve_with_a_level_the_bundle_lacks_is_one_line_before_loading(tiny_bundle, capsys):
    assert main(["serve", "--model", str(tiny_bundle), "--broker", "mqtt://127.0.0.1:1", "--interval", "0.9"]) == 2
    assert capsys.readouterr().err == (f"forecaster: error: {tiny_bundle}: no interval at level 0.9; calibrated "
                                       "levels: 0.8, 0.95\n")
