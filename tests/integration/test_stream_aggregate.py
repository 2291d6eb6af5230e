"""`--aggregate` on the daemon (issue 19): several readings per slot are combined by the batch
path's one rule, a slot is final when a reading of a later slot arrives or its grace passes on
the daemon's clock, and the forecasts equal `Forecaster.predict` on the CSV read with the
same ``aggregate``."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from helpers import ETT_COLUMNS, STREAM_EQUALS_BATCH
from mqtt_broker import Collector
from serve_support import DaemonThread, forecasts, publisher, scrape

from forecaster.serve.service import ForecastService
from forecaster.serve.state import restore_state, save_state
from pipelines import read_csv
from pipelines.payloads import ParseRules, Reading, encode_reading

SLOTS = 30
HOUR = 3_600_000_000_000


def iso(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def two_per_slot(ett_small: pd.DataFrame, slots: int = SLOTS) -> pd.DataFrame:
    """Two readings in each hourly slot (on the hour and 20 minutes later, the second one off
    by a few percent), in time order."""
    rows = ett_small.iloc[:slots].reset_index(drop=True)
    later = rows.copy()
    later["date"] = rows["date"] + pd.Timedelta(minutes=20)
    later[ETT_COLUMNS] = rows[ETT_COLUMNS] * (1 + 0.05 * np.sin(np.arange(slots)))[:, None]
    return pd.concat([rows, later]).sort_values("date", kind="stable").reset_index(drop=True)


def batch_mean(readings: pd.DataFrame, tmp_path) -> pd.DataFrame:
    """The readings as a CSV, read back with ``aggregate="mean"`` (what `forecaster predict
    --aggregate mean` reads)."""
    path = tmp_path / "two_per_slot.csv"
    readings.assign(date=readings["date"].dt.strftime("%Y-%m-%d %H:%M:%S")).to_csv(path, index=False)
    return read_csv(path, time_col="date", aggregate="mean")


def first_slots(frame: pd.DataFrame, n: int) -> pd.DataFrame:
    """The readings of the first ``n`` slots (attrs, hence ``aggregate``, kept)."""
    return frame[frame["date"] < frame["date"].iloc[0].floor("1h") + pd.Timedelta(hours=n)]


class Clock:
    """The daemon's clock, set by the test (ns since the epoch)."""

    def __init__(self, now: pd.Timestamp) -> None:
        self.ns = now.value

    def __call__(self) -> int:
        return self.ns


class Sent:
    def __init__(self) -> None:
        self.sent: list[dict] = []

    def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> bool:
        self.sent.append(json.loads(payload))
        return True


def assert_equals_predict(got: dict, model, frame: pd.DataFrame) -> None:
    want = model.predict(frame)
    assert [f["ts"] for f in got["forecast"]] == [iso(t) for t in want["ts"]]
    np.testing.assert_allclose([f["OT"] for f in got["forecast"]], want["OT"], **STREAM_EQUALS_BATCH)


def test_service_aggregates_and_the_clock_finalises_the_last_slot(tiny_model, ett_small, tmp_path):
    readings = two_per_slot(ett_small)
    frame = batch_mean(readings, tmp_path)
    clock = Clock(readings["date"].iloc[0])
    rules = ParseRules(subscription="sensors/+/readings", features=tiny_model.spec.features)
    sent = Sent()
    service = ForecastService(tiny_model, rules=rules, publisher=sent, aggregate="mean", slot_grace=600, clock=clock)
    for ts, values in zip(readings["date"], readings[ETT_COLUMNS].to_numpy().tolist()):
        service.process([Reading("t1", ts, tuple(values))])
    assert len(sent.sent) == SLOTS - 24  # slots 23..28, each finalised by a reading of the next
    assert_equals_predict(sent.sent[0], tiny_model, first_slots(frame, 24))
    last = readings["date"].iloc[-1].floor("1h")
    clock.ns = (last + pd.Timedelta(hours=1, seconds=599)).value
    assert service.finalize_due() == 0  # the grace has not passed yet
    state = tmp_path / "state.json"
    save_state(state, service.windows, tiny_model)  # the pending slot's two readings are saved
    restarted = ForecastService(tiny_model, rules=rules, publisher=sent, aggregate="mean", slot_grace=600, clock=clock)
    assert restore_state(state, restarted.windows, tiny_model) == 1
    clock.ns += 1_000_000_000
    assert restarted.finalize_due() == 1
    assert sent.sent[-1]["issued_at"] == iso(last)
    assert_equals_predict(sent.sent[-1], tiny_model, frame)


def test_without_aggregate_the_second_reading_is_a_duplicate(tiny_model, ett_small):
    readings = two_per_slot(ett_small, slots=3)
    rules = ParseRules(subscription="sensors/+/readings", features=tiny_model.spec.features)
    service = ForecastService(tiny_model, rules=rules, publisher=Sent())
    service.process([Reading("t1", ts, tuple(v)) for ts, v in zip(readings["date"], readings[ETT_COLUMNS].to_numpy().tolist())])
    assert service.metrics.value("forecaster_messages_total", result="rejected", cause="duplicate") == 3


def test_two_readings_per_slot_over_a_broker_equal_predict_with_aggregate_mean(broker, tiny_model, ett_small, tmp_path):
    readings = two_per_slot(ett_small)
    frame = batch_mean(readings, tmp_path)
    collector = Collector(broker.url, "forecasts/#", client_id="aggregate-collector")
    daemon = DaemonThread(tiny_model, broker.url, client_id="aggregate-daemon", aggregate="mean", slot_grace=60.0,
                          max_future_s=1e9)  # the clock stays at the start of the history replayed
    clock = Clock(readings["date"].iloc[0])  # history: the daemon's clock is set back to it
    daemon.daemon.service.clock = clock
    sensor = publisher(broker.url, "aggregate-sensor")
    try:
        for ts, values in zip(readings["date"], readings[ETT_COLUMNS].to_numpy().tolist()):
            sensor.publish("sensors/t1/readings", encode_reading(ts, ETT_COLUMNS, values), qos=1)
        assert sensor.flush(10)
        hours = frame["date"].dt.floor("1h").unique()
        before_last = iso(hours[-2])  # final once the last slot's first reading came
        assert collector.wait_for(lambda m: any(f["issued_at"] == before_last for f in forecasts(collector, "t1")), timeout=30)
        got = forecasts(collector, "t1")  # windows completed in one batch: only the newest is published
        for f in got:
            end = list(map(iso, hours)).index(f["issued_at"]) + 1
            assert_equals_predict(f, tiny_model, first_slots(frame, end))
        clock.ns = (hours[-1] + pd.Timedelta(hours=1, seconds=60)).value  # the last slot's grace passes
        assert collector.wait_for(lambda m: forecasts(collector, "t1")[-1]["issued_at"] == iso(hours[-1]), timeout=10)
        assert_equals_predict(forecasts(collector, "t1")[-1], tiny_model, frame)
        assert scrape(daemon.port)[("forecaster_messages_total", (("cause", "ok"), ("result", "accepted")))] == 2 * SLOTS
    finally:
        sensor.stop()
        assert daemon.close() == 0
        collector.close()
