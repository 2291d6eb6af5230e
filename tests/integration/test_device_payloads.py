"""Device payloads through a real broker (issue 19): Zigbee2MQTT-style messages without a
timestamp (the arrival time), Tasmota-style nested fields, epoch milliseconds and numbers sent as strings give the forecasts of `Forecaster.predict` on the
equivalent frame, and a message missing a feature behaves like an empty CSV cell."""

from __future__ import annotations

import json
import logging
import time

import numpy as np
import pandas as pd
from helpers import ETT_COLUMNS
from mqtt_broker import Collector
from serve_support import DaemonThread, forecasts, publisher, scrape

from forecaster.cli import main
from forecaster.serve.service import ForecastService
from pipelines.payloads import ParseRules

ROWS = 30
TASMOTA_MAP = tuple((c, f"ENERGY.{c.title()}") for c in ETT_COLUMNS)


def iso(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def tasmota(row: pd.Series) -> dict:
    return {"Time": row["date"].strftime("%Y-%m-%dT%H:%M:%S"),  # Tasmota's local time, no zone: UTC
            "ENERGY": {c.title(): row[c] for c in ETT_COLUMNS}, "TempUnit": "C"}


def epoch_ms(row: pd.Series) -> dict:
    return {"ts": row["date"].value // 1_000_000, **{c: row[c] for c in ETT_COLUMNS}}


def strings(row: pd.Series) -> dict:
    return {"time": iso(row["date"]), "values": {c: repr(float(row[c])) for c in ETT_COLUMNS}}


ZIGBEE_MAP = tuple((c, c.lower()) for c in ETT_COLUMNS)


def zigbee(row: pd.Series) -> dict:
    """What Zigbee2MQTT publishes: flat fields, no timestamp, device extras."""
    return {**{c.lower(): row[c] for c in ETT_COLUMNS}, "battery": 97, "linkquality": 120}


def send_all(url: str, topic: str, rows: pd.DataFrame, encode, client_id: str) -> None:
    sensor = publisher(url, client_id)
    try:
        for _, row in rows.iterrows():
            sensor.publish(topic, json.dumps(encode(row)).encode(), qos=1)
        assert sensor.flush(10)
    finally:
        sensor.stop()


def assert_forecast_equals_predict(collector: Collector, sensor: str, model, frame: pd.DataFrame) -> None:
    last = iso(frame["date"].iloc[-1])
    assert collector.wait_for(lambda m: any(f["issued_at"] == last for f in forecasts(collector, sensor)), timeout=30), sensor
    got = next(f for f in forecasts(collector, sensor) if f["issued_at"] == last)
    want = model.predict(frame)
    assert [f["ts"] for f in got["forecast"]] == [iso(t) for t in want["ts"]]
    np.testing.assert_allclose([f["OT"] for f in got["forecast"]], want["OT"], rtol=0, atol=1e-5)


def test_tasmota_nested_fields_give_the_batch_forecast(broker, tiny_model, ett_small):
    rows = ett_small.iloc[:ROWS]
    collector = Collector(broker.url, "forecasts/#", client_id="tasmota-collector")
    daemon = DaemonThread(tiny_model, broker.url, client_id="tasmota-daemon", subscribe="tele/+/SENSOR", mapping=TASMOTA_MAP)
    try:
        send_all(broker.url, "tele/plug1/SENSOR", rows, tasmota, "tasmota-plug")
        assert_forecast_equals_predict(collector, "plug1", tiny_model, rows)
        metrics = scrape(daemon.port)
        assert metrics[("forecaster_payload_fields_ignored_total", ())] == ROWS  # TempUnit, each time
        assert metrics[("forecaster_messages_total", (("cause", "ok"), ("result", "accepted")))] == ROWS
    finally:
        assert daemon.close() == 0
        collector.close()


def test_epoch_ms_strings_and_a_missing_feature_give_the_batch_forecast(broker, tiny_model, ett_small):
    rows = ett_small.iloc[:ROWS].reset_index(drop=True)
    gappy = rows.copy()
    gappy.loc[20, "HUFL"] = np.nan  # absent from the message
    gappy.loc[26, "OT"] = np.nan  # sent as null

    def with_gaps(row: pd.Series) -> dict:
        body = {"ts": iso(row["date"]), **{c: (None if np.isnan(row[c]) else row[c]) for c in ETT_COLUMNS}}
        if row.name == 20:
            del body["HUFL"]
        return body

    collector = Collector(broker.url, "forecasts/#", client_id="device-collector")
    daemon = DaemonThread(tiny_model, broker.url, client_id="device-daemon")
    try:
        send_all(broker.url, "sensors/ms/readings", rows, epoch_ms, "device-ms")
        send_all(broker.url, "sensors/str/readings", rows, strings, "device-str")
        send_all(broker.url, "sensors/gap/readings", gappy, with_gaps, "device-gap")
        assert_forecast_equals_predict(collector, "ms", tiny_model, rows)
        assert_forecast_equals_predict(collector, "str", tiny_model, rows)
        assert_forecast_equals_predict(collector, "gap", tiny_model, gappy)  # the batch path drops the rows, interpolates
        assert not np.allclose(tiny_model.predict(gappy)["OT"], tiny_model.predict(rows)["OT"], rtol=0, atol=1e-7)
        metrics = scrape(daemon.port)
        assert metrics[("forecaster_messages_total", (("cause", "ok"), ("result", "accepted")))] == 3 * ROWS
    finally:
        assert daemon.close() == 0
        collector.close()


class Dropped:
    def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> bool:
        return True


def test_a_map_path_that_never_matches_is_warned_once(tiny_model, ett_small, caplog):
    typo = (("HUFL", "ENERGY.Hufl_"),) + TASMOTA_MAP[1:]
    rules = ParseRules(subscription="tele/+/SENSOR", features=tiny_model.spec.features, mapping=typo)
    service = ForecastService(tiny_model, rules=rules, publisher=Dropped())
    caplog.set_level(logging.WARNING, logger="forecaster")
    for _, row in ett_small.iloc[:5].iterrows():
        service.receive("tele/plug1/SENSOR", json.dumps(tasmota(row)).encode())
    warnings = [r.getMessage() for r in caplog.records if "--map" in r.getMessage()]
    assert len(warnings) == 1 and "HUFL=ENERGY.Hufl_" in warnings[0], warnings


def test_a_malformed_map_is_one_line_and_exit_2(capsys, tmp_path):
    assert main(["serve", "--model", str(tmp_path), "--map", "T"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "FEATURE=PATH" in err and "Traceback" not in err


def test_zigbee2mqtt_without_a_timestamp_takes_the_arrival_time(broker, tiny_model, ett_small):
    rows = ett_small.iloc[:ROWS]
    collector = Collector(broker.url, "forecasts/#", client_id="zigbee-collector")
    daemon = DaemonThread(tiny_model, broker.url, client_id="zigbee-daemon", subscribe="zigbee2mqtt/+",
                          mapping=ZIGBEE_MAP, arrival_time=True)
    now = {"ns": 0}
    daemon.daemon.service.clock = lambda: now["ns"]  # the daemon's clock: each reading arrives in its hour
    sensor = publisher(broker.url, "zigbee-plug")
    metrics = daemon.daemon.metrics
    try:
        for i, (_, row) in enumerate(rows.iterrows()):
            now["ns"] = (row["date"] + pd.Timedelta(minutes=1)).value
            sensor.publish("zigbee2mqtt/kitchen", json.dumps(zigbee(row)).encode(), qos=1)
            deadline = time.monotonic() + 10  # taken at this clock before the clock moves on
            while metrics.value("forecaster_messages_total", result="accepted", cause="ok") != i + 1:
                assert time.monotonic() < deadline, f"reading {i} not accepted"
                time.sleep(0.01)
        assert_forecast_equals_predict(collector, "kitchen", tiny_model, rows)
        assert metrics.value("forecaster_payload_fields_ignored_total") == 2 * ROWS  # battery, linkquality
    finally:
        sensor.stop()
        assert daemon.close() == 0
        collector.close()
