"""The worker survives its own bugs without flooding the log, and acknowledges only what is safe."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import numpy as np
import pandas as pd

from forecaster.serve.delivery import Delivery
from forecaster.serve.service import ForecastService
from forecaster.serve.telemetry import Metrics
from pipelines.payloads import ParseRules, Reading


class Broken:
    """A model whose prediction always raises (a bug), with a window of 2 readings."""

    spec = SimpleNamespace(input_steps=2, horizon=1, features=("x",), targets=("x",))
    freq_ = "h"
    max_gap = 0
    name = "broken"

    def predict_windows(self, windows: np.ndarray, *, sensors=None, ends=None) -> np.ndarray:
        raise RuntimeError("boom")


class Sent:
    def __init__(self) -> None:
        self.sent = []

    def publish(self, topic, payload, qos=0, retain=False) -> bool:
        self.sent.append(topic)
        return True


def reading(k: int) -> Reading:
    return Reading("s1", pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(hours=k), (float(k),))


def test_a_bug_in_every_batch_is_logged_once_and_counted_each_time(caplog):
    service = ForecastService(Broken(), rules=ParseRules(subscription="sensors/+/readings", features=("x",)),
                              publisher=Sent())
    with caplog.at_level(logging.ERROR):
        for k in range(6):
            service._process_logged([reading(k)], [None])
    assert service.metrics.value("forecaster_internal_errors_total") == 5  # the first reading completes no window
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert len(tracebacks) == 1 and "boom" in caplog.text


def test_readings_are_acknowledged_after_the_journal_and_rejections_at_once(tmp_path):
    acked: list = []
    order: list = []

    class Store:
        path = tmp_path / "state.json"

        def record(self, readings):
            order.append(("journal", [r[1] for r in readings]))

        def sync(self):
            order.append(("sync", None))

    delivery = Delivery(lambda tokens: order.append(("ack", list(tokens))) or acked.extend(tokens), Store(), Metrics(),
                        interval=None)
    rules = ParseRules(subscription="sensors/+/readings", features=("x",))
    model = SimpleNamespace(spec=Broken.spec, freq_="h", max_gap=0, name="m",
                            predict_windows=lambda w, **_: np.zeros((len(w), 1, 1)))
    service = ForecastService(model, rules=rules, publisher=Sent(), delivery=delivery)
    service.receive("sensors/s1/readings", b"not json", token="t-bad")
    assert acked == ["t-bad"] and order == [("ack", ["t-bad"])]  # nothing to keep: acknowledged at once
    service.process([reading(0), reading(1), reading(1)], ["t0", "t1", "t1-again"])
    assert delivery.drain(10)
    delivery.close()
    ns = [reading(0).ts.value, reading(1).ts.value]
    # journalled (the redelivery is not), synced by the committer thread, then acknowledged
    assert order[1:] == [("journal", ns), ("sync", None), ("ack", ["t0", "t1", "t1-again"])]
    assert service.metrics.value("forecaster_readings_redelivered_total") == 1


def test_a_failing_journal_acknowledges_nothing_and_makes_the_daemon_not_ready(tmp_path):
    class FullDisk:
        path = tmp_path / "state.json"

        def record(self, readings):
            pass  # the page cache takes it

        def sync(self):
            raise OSError(28, "No space left on device")

    acked: list = []
    delivery = Delivery(acked.extend, FullDisk(), Metrics(), interval=None)
    model = SimpleNamespace(spec=Broken.spec, freq_="h", max_gap=0, name="m",
                            predict_windows=lambda w, **_: np.zeros((len(w), 1, 1)))
    service = ForecastService(model, rules=ParseRules(subscription="sensors/+/readings", features=("x",)),
                              publisher=Sent(), delivery=delivery)
    service.process([reading(0)], ["t0"])
    assert delivery.drain(10)
    delivery.close()
    assert acked == [] and delivery.failing
    assert delivery.metrics.value("forecaster_state_errors_total") == 1
