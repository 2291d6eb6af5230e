"""Delivery guarantees of `forecaster serve` against a real Mosquitto (with persistence): a
QoS 1 reading acknowledged to the broker is never lost, whether the daemon is stopped with
SIGTERM under a backlog or killed; `benchmarks/chaos.py` in short."""

from __future__ import annotations

import json
import re
import signal
import time

import numpy as np
import pytest
from helpers import ETT_COLUMNS
from mqtt_broker import Broker

from benchmarks.chaos import Daemon, client, run
from pipelines.payloads import encode_reading

SENSORS = ("d1", "d2", "d3")


def last_forecasts(messages: list, sensor: str) -> list[dict]:
    return [json.loads(p) for t, p in messages if t == f"forecasts/{sensor}"]


@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_a_stop_or_crash_under_a_backlog_loses_no_acknowledged_reading(tmp_path, tiny_bundle, tiny_model, ett_small, how):
    broker = Broker(tmp_path / "mosquitto", persistence=True, extra=["autosave_on_changes true"]).start()
    received: list[tuple[str, bytes]] = []
    collector = client(broker.url, "delivery-collector", subscriptions=[("forecasts/#", 1)],
                       on_message=lambda t, p: received.append((t, p)))
    daemon = Daemon(tiny_bundle, broker.url, tmp_path)
    sensors = client(broker.url, "delivery-sensors")
    try:
        daemon.start()
        rows = ett_small.iloc[:300]
        payloads = [encode_reading(ts, ETT_COLUMNS, v) for ts, v in zip(rows["date"], rows[ETT_COLUMNS].to_numpy().tolist())]
        daemon.process.send_signal(signal.SIGSTOP)  # a backlog for sure: the daemon reads nothing meanwhile
        for payload in payloads:
            for sensor in SENSORS:
                sensors.publish(f"sensors/{sensor}/readings", payload, qos=1)
        assert sensors.flush(30)  # the broker has acknowledged every reading
        last = rows["date"].iloc[-1].strftime("%Y-%m-%dT%H:%M:%SZ")
        daemon.process.send_signal(signal.SIGCONT)
        time.sleep(0.2)  # it is taking the backlog in
        if how == "sigterm":
            assert daemon.stop() == 0
        else:
            daemon.kill()
        daemon.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if all(any(f["issued_at"] == last for f in last_forecasts(received, s)) for s in SENSORS):
                break
            time.sleep(0.1)
        want = tiny_model.predict(rows)
        for sensor in SENSORS:
            final = [f for f in last_forecasts(received, sensor) if f["issued_at"] == last]
            assert final, f"no forecast for {sensor}'s last reading"
            np.testing.assert_allclose([step["OT"] for step in final[-1]["forecast"]], want["OT"], rtol=0, atol=1e-5)
        assert daemon.stop() == 0
        log = (tmp_path / "daemon.log").read_text()
        assert "did not finish" not in log and "Traceback" not in log and "ERROR" not in log
        assert re.search(r"saved the windows of \d+ sensor\(s\)", log) and (tmp_path / "state.json").exists()
    finally:
        daemon.close()
        sensors.stop()
        collector.stop()
        broker.kill()


def test_chaos_in_short_loses_nothing_and_every_forecast_is_right(tmp_path, tiny_bundle):
    """Two kills and a SIGTERM of the daemon during a paced stream. (The broker kill of the full
    benchmark is left out here: after a Mosquitto restart some readings can come back after newer
    ones and reset a window, which `benchmarks/chaos.py` reports as out of order.)"""
    events = ("kill daemon", "stop daemon", "kill daemon")
    result = run(tiny_bundle, tmp_path, n_sensors=4, rate=6.0, seconds=16.0, events=events, log=lambda _line: None)
    assert result["sent"] == result["acknowledged"] > 0
    assert result["lost"] == 0, result["lost_slots"]
    assert result["mismatched"] == 0 and result["out_of_order"] == 0
    assert result["forecasts"] >= 4 * 16  # the stream keeps being forecast after each event
