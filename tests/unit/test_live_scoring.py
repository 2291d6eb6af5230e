"""Live scoring (issue 21): forecasts meet the readings of their slots; numbers computed by hand."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from forecaster.serve.anomalies import anomaly_score
from forecaster.serve.config import ServeConfig
from forecaster.serve.live_scoring import NoScoring, live_scoring
from forecaster.serve.mqtt_settings import BrokerAddress, MqttSettings
from forecaster.serve.service import ForecastService
from forecaster.serve.telemetry import Metrics
from pipelines.errors import ForecasterError
from pipelines.payloads import ParseRules, Reading

SPEC = SimpleNamespace(input_steps=2, horizon=2, features=("x", "y"), targets=("y",))


class Sent:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []

    def publish(self, topic, payload, qos=0, retain=False) -> bool:
        self.sent.append((topic, payload))
        return True


def model(spec=SPEC):
    return SimpleNamespace(spec=spec, freq_="h", max_gap=0, name="m")


def banded(point, lo, hi):
    """One `banded` forecast row of one target and one level: (horizon, 3)."""
    return np.array([point, lo, hi], dtype=float).T


def scorer(per_sensor=False, anomaly=False):
    metrics, sent = Metrics(), Sent()
    live = live_scoring(model(), [0.9], metrics, per_sensor=per_sensor, publisher=sent,
                        anomaly_topic="anomalies/{sensor}" if anomaly else None, anomaly_level=0.9)
    return live, metrics, sent


def value(metrics, name, **labels):
    return metrics.value(name, **{"target": "y", **labels})


def test_errors_naive_error_and_coverage_by_step():
    live, metrics, _ = scorer()
    # issued at slot 10 from a window whose last reading of y is 19: steps 1 and 2 forecast 20 and 22
    live.keep(["s"], banded([20, 22], [18, 19], [21, 23])[None], np.array([[[0, 17], [0, 19]]]), [10])
    live.score("s", 11, np.array([5.0, 21.5]))  # |20 - 21.5| = 1.5; naive |19 - 21.5| = 2.5; above hi 21
    live.score("s", 12, np.array([5.0, 22.0]))  # |22 - 22| = 0; naive 3; inside [19, 23]
    assert value(metrics, "forecaster_live_abs_error_sum", step="1") == 1.5
    assert value(metrics, "forecaster_live_abs_error_count", step="1") == 1
    assert value(metrics, "forecaster_live_abs_error_sum", step="2") == 0.0
    assert value(metrics, "forecaster_live_naive_abs_error_sum", step="1") == 2.5
    assert value(metrics, "forecaster_live_naive_abs_error_sum", step="2") == 3.0
    assert value(metrics, "forecaster_live_interval_hits_total", step="1", level="0.9") == 0
    assert value(metrics, "forecaster_live_interval_hits_total", step="2", level="0.9") == 1
    assert value(metrics, "forecaster_live_interval_scored_total", step="2", level="0.9") == 1
    assert live.kept() == 0  # its last slot scored: dropped
    assert value(metrics, "forecaster_anomalies_total") == 0  # no --anomaly-topic: nothing flagged


def test_overlapping_forecasts_score_one_reading_at_two_steps_and_skip_missing_values():
    live, metrics, _ = scorer()
    live.keep(["s"], banded([20, 22], [18, 19], [21, 23])[None], np.array([[[0, 19], [0, 19]]]), [10])
    live.keep(["s"], banded([30, 32], [28, 29], [31, 33])[None], np.array([[[0, 21], [0, 21]]]), [11])
    live.score("s", 12, np.array([5.0, 25.0]))  # step 2 of slot 10: |22 - 25|; step 1 of slot 11: |30 - 25|
    assert value(metrics, "forecaster_live_abs_error_sum", step="2") == 3.0
    assert value(metrics, "forecaster_live_abs_error_sum", step="1") == 5.0
    assert value(metrics, "forecaster_live_naive_abs_error_sum", step="1") == 4.0  # |21 - 25|
    assert value(metrics, "forecaster_live_naive_abs_error_sum", step="2") == 6.0  # |19 - 25|
    assert live.kept() == 1  # slot 11's step 2 is still to come
    live.score("s", 13, np.array([5.0, np.nan]))  # a missing value is not a score
    assert value(metrics, "forecaster_live_abs_error_count", step="2") == 1
    assert live.kept() == 0


def test_an_anomaly_is_published_with_its_score_and_counted():
    live, metrics, sent = scorer(anomaly=True)
    live.keep(["s"], banded([20, 22], [18, 19], [21, 23])[None], np.array([[[0, 19], [0, 19]]]), [10])
    live.score("s", 11, np.array([5.0, 24.0]))  # 3 above hi 21, the interval 3 wide: score 1.0
    live.keep(["s"], banded([24, 24], [22, 21], [26, 27])[None], np.array([[[0, 19], [0, 24]]]), [11])
    live.score("s", 12, np.array([5.0, 25.0]))  # inside [22, 26] at step 1: not flagged (step 2 of 10 is not checked)
    assert len(sent.sent) == 1
    topic, payload = sent.sent[0]
    assert topic == "anomalies/s"
    assert json.loads(payload) == {
        "sensor": "s", "target": "y", "ts": "1970-01-01T11:00:00Z", "reading": 24.0, "forecast": 20.0, "lo": 18.0,
        "hi": 21.0, "level": "0.9", "step": 1, "issued_at": "1970-01-01T10:00:00Z", "score": 1.0, "model": "m"}
    assert value(metrics, "forecaster_anomalies_total") == 1


def test_anomaly_score_in_interval_widths():
    assert anomaly_score(24.0, 18.0, 21.0) == 1.0
    assert anomaly_score(16.5, 18.0, 21.0) == 0.5
    assert anomaly_score(19.0, 18.0, 21.0) == 0.0
    assert anomaly_score(19.0, 18.0, 18.0) is None  # an interval without width


def test_memory_is_bounded_by_the_horizon_and_by_the_window_registry():
    live, metrics, _ = scorer(per_sensor=True)
    window = np.array([[[0, 19], [0, 19]]])
    for slot in range(10):  # no reading ever comes: only the forecasts whose slots are ahead stay
        live.keep(["a"], banded([20, 22], [18, 19], [21, 23])[None], window, [slot])
    assert live.kept() == 2
    live.keep(["b"], banded([20, 22], [18, 19], [21, 23])[None], window, [0])
    live.score("b", 1, np.array([0.0, 20.0]))
    assert metrics.value("forecaster_live_abs_error_count", target="y", step="1", sensor="b") == 1
    assert live.kept() == 3
    live.retain(["a"])  # b's window was evicted
    assert live.kept() == 2
    assert metrics.value("forecaster_live_abs_error_count", target="y", step="1", sensor="b") is None
    live.score("s", 30, np.array([1.0, 2.0]))  # a sensor without forecasts: nothing
    assert metrics.value("forecaster_live_forecasts_kept") == 2


def test_scoring_never_raises_it_counts():
    live, metrics, _ = scorer()
    live.keep(["s"], banded([20, 22], [18, 19], [21, 23])[None], np.array([[[0, 19], [0, 19]]]), [10])
    live.score("s", 11, np.array([]))  # a row of the wrong shape
    live.keep(["s"], np.zeros((1, 2, 1)), np.zeros((1, 2, 2)), [11])  # a forecast without its bands
    assert metrics.value("forecaster_live_scoring_errors_total") == 2


def test_the_service_scores_in_the_worker_against_the_published_forecasts():
    """A model forecasting the last reading + 1 at every step; readings 0, 1, 3, 6: each forecast
    issued at slot t is scored at step 1 against t + 1 and at step 2 against t + 2."""
    spec = SimpleNamespace(input_steps=2, horizon=2, features=("y",), targets=("y",))
    fake = SimpleNamespace(spec=spec, freq_="h", max_gap=0, name="m",
                           predict_windows=lambda w, **_: np.repeat(w[:, -1:, :] + 1.0, 2, axis=1))
    service = ForecastService(fake, rules=ParseRules(subscription="sensors/+/readings", features=("y",)), publisher=Sent())
    t0 = pd.Timestamp("2024-01-01", tz="UTC")
    values = [0.0, 1.0, 3.0, 6.0]
    for k, v in enumerate(values):
        service.process([Reading("s", t0 + pd.Timedelta(hours=k), (v,))])
    m = service.metrics
    # forecasts 2 (slot 1), 4 (slot 2); step 1: |2 - 3| + |4 - 6| = 3; step 2: |2 - 6| = 4
    assert m.value("forecaster_live_abs_error_sum", target="y", step="1") == 3.0
    assert m.value("forecaster_live_abs_error_sum", target="y", step="2") == 4.0
    # naive (1 at slot 1, 3 at slot 2): step 1: |1 - 3| + |3 - 6| = 5; step 2: |1 - 6| = 5
    assert m.value("forecaster_live_naive_abs_error_sum", target="y", step="1") == 5.0
    assert m.value("forecaster_live_naive_abs_error_sum", target="y", step="2") == 5.0


def test_without_live_scoring_the_service_forecasts_and_scores_nothing():
    spec = SimpleNamespace(input_steps=2, horizon=2, features=("y",), targets=("y",))
    fake = SimpleNamespace(spec=spec, freq_="h", max_gap=0, name="m",
                           predict_windows=lambda w, **_: np.repeat(w[:, -1:, :] + 1.0, 2, axis=1))
    sent = Sent()
    service = ForecastService(fake, rules=ParseRules(subscription="sensors/+/readings", features=("y",)),
                              publisher=sent, live=NoScoring())
    t0 = pd.Timestamp("2024-01-01", tz="UTC")
    for k, v in enumerate([0.0, 1.0, 3.0, 6.0]):
        service.process([Reading("s", t0 + pd.Timedelta(hours=k), (v,))])
    assert service.metrics.value("forecaster_forecasts_published_total") == 3
    assert service.metrics.value("forecaster_live_abs_error_sum", target="y", step="1") is None


def test_anomaly_flags_need_live_scoring():
    settings = MqttSettings(broker=BrokerAddress.parse("mqtt://h"), client_id="c")
    with pytest.raises(ForecasterError, match="anomaly flags need live scoring"):
        ServeConfig(bundle="b", mqtt=settings, status_topic="s", intervals=(0.95,), anomaly_topic="anomalies/{sensor}",
                    live_scoring=False)


def test_the_anomaly_level_must_be_served():
    settings = MqttSettings(broker=BrokerAddress.parse("mqtt://h"), client_id="c")
    with pytest.raises(ForecasterError, match=r"`anomaly_level` 0.95 must be one of the served interval levels \(0.8\)"):
        ServeConfig(bundle="b", mqtt=settings, status_topic="s", intervals=(0.8,), anomaly_topic="anomalies/{sensor}")
    with pytest.raises(ForecasterError, match="`anomaly_topic` must be a topic"):
        ServeConfig(bundle="b", mqtt=settings, status_topic="s", intervals=(0.95,), anomaly_topic="anomalies/#")
    ServeConfig(bundle="b", mqtt=settings, status_topic="s", intervals=(0.95,), anomaly_topic="anomalies/{sensor}")


def test_an_evicted_sensor_takes_its_forecasts_with_it():
    spec = SimpleNamespace(input_steps=1, horizon=3, features=("y",), targets=("y",))
    fake = SimpleNamespace(spec=spec, freq_="h", max_gap=0, name="m",
                           predict_windows=lambda w, **_: np.repeat(w[:, -1:, :], 3, axis=1))
    service = ForecastService(fake, rules=ParseRules(subscription="sensors/+/readings", features=("y",)),
                              publisher=Sent(), max_sensors=1)
    t0 = pd.Timestamp("2024-01-01", tz="UTC")
    service.process([Reading("a", t0, (1.0,)), Reading("a", t0 + pd.Timedelta(hours=1), (2.0,))])
    assert service.live.kept() == 1  # a's newest forecast (the older one in the batch was superseded)
    service.process([Reading("b", t0, (1.0,))])  # evicts a
    assert service.live.kept() == 1  # b's only
    assert service.metrics.value("forecaster_sensors_evicted_total") == 1
