"""Replicas without Redis: the settings that cannot go together are one clear error, and the
shared window step retries a store that is down without acknowledging anything (a fake store)."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from forecaster.cli import main
from forecaster.serve.config import ServeConfig
from forecaster.serve.delivery import Delivery
from forecaster.serve.mqtt_settings import BrokerAddress, MqttSettings
from forecaster.serve.redis_store import HELD, Claim, StoreDown
from forecaster.serve.service import ForecastService
from forecaster.serve.shared_service import SharedWindows
from forecaster.serve.telemetry import Metrics
from pipelines.errors import ForecasterError
from pipelines.payloads import ParseRules, Reading

MQTT = MqttSettings(broker=BrokerAddress.parse("mqtt://h"), client_id="r0")


@pytest.mark.parametrize(("settings", "message"), [
    ({"state_store": "redis://h:6379/0", "state_file": "s.json"}, "not both"),
    ({"share_group": "g"}, "need their windows in a shared --state-store"),
    ({"state_store": "redis://h:6379/x"}, "the database must be a number"),
    ({"state_store": "memcached://h"}, "unsupported scheme"),
    ({"state_store": "redis://h:6379/0", "share_group": "a/b"}, "without '/'"),
    ({"state_store": "redis://h:6379/0", "aggregate": "mean"}, "--aggregate keeps readings in one process"),
    ({"state_store": "redis://h:6379/0", "reorder_slots": -1}, "non-negative"),
])
def test_settings_that_do_not_go_together_are_refused(settings, message):
    with pytest.raises(ForecasterError, match=message):
        ServeConfig(bundle="b", mqtt=MQTT, status_topic="s", **settings)


def test_a_share_group_subscribes_through_share():
    config = ServeConfig(bundle="b", mqtt=MQTT, status_topic="s", state_store="redis://h:6379/0", share_group="g")
    assert config.subscription == "$share/g/sensors/+/readings"


def test_state_store_with_state_file_is_one_line_and_exit_2(capsys, tmp_path):
    code = main(["serve", "--model", str(tmp_path), "--state-store", "redis://h:6379/0", "--state-file",
                 str(tmp_path / "s.json")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "not both" in err


class Echo:
    spec = SimpleNamespace(input_steps=2, horizon=1, features=("x",), targets=("x",))
    freq_ = "h"
    max_gap = 0
    name = "echo"

    def predict_windows(self, windows: np.ndarray, sensors=None, ends=None) -> np.ndarray:
        return windows[:, -1:, :]


class Sent:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def publish(self, topic, payload, qos=0, retain=False) -> bool:
        self.sent.append(topic)
        return True


class FlakyStore:
    """Down for the first ``down`` pushes; then every reading completes the slot it holds."""

    url, owner, length, max_gap = "redis://h:6379/0", "r0", 2, 0

    def __init__(self, down: int) -> None:
        self.down, self.pushes, self.recoveries = down, 0, 0

    def check_settings(self, fingerprint): ...
    def now_ms(self): return 0.0
    def pending(self, older_than_ms=None): return []
    def confirm(self, claims): ...
    def ping(self): ...

    def take(self, owner, sensor, cutoff_ms=float("inf")):
        return None

    def push(self, readings, confirm=()):
        self.pushes += 1
        if self.pushes <= self.down:
            raise StoreDown("Error 111 connecting to h:6379. Connection refused.")
        slots = np.arange(2)
        return [(HELD, Claim(s, 1, 1, slots, np.array([[0.0], [float(ns)]]))) for s, ns, _ in readings]


def service_with(store: FlakyStore, acked: list) -> tuple[ForecastService, SharedWindows, list]:
    metrics, sleeps = Metrics(), []
    shared = SharedWindows(store, metrics, {}, sleep=sleeps.append)
    service = ForecastService(Echo(), rules=ParseRules(subscription="sensors/+/readings", features=("x",)),
                              publisher=Sent(), metrics=metrics, shared=shared,
                              delivery=Delivery(acked.extend, None, metrics, interval=None))
    return service, shared, sleeps


def test_a_store_that_is_down_holds_the_batch_unacknowledged_then_lets_it_through(caplog):
    acked: list = []
    service, shared, sleeps = service_with(FlakyStore(down=4), acked)
    item = Reading("s1", pd.Timestamp("2024-01-01", tz="UTC"), (1.0,))
    with caplog.at_level(logging.INFO, logger="forecaster"):
        assert service.process([item], ["token"]) == 1
    assert acked == ["token"] and len(sleeps) == 4 and sleeps == sorted(sleeps)
    lines = [r.getMessage() for r in caplog.records]
    assert sum("cannot reach the state store redis://h:6379/0" in line for line in lines) == 1
    assert sum("answers again after 4 failed attempts" in line for line in lines) == 1
    assert service.metrics.value("forecaster_state_store_errors_total") == 4
    assert not shared.failing


def test_stopping_while_the_store_is_down_acknowledges_nothing():
    acked: list = []
    service, shared, _ = service_with(FlakyStore(down=100), acked)
    service.accepting = False
    assert service.process([Reading("s1", pd.Timestamp("2024-01-01", tz="UTC"), (1.0,))], ["token"]) == 0
    assert acked == [] and shared.failing


class Orphaned(FlakyStore):
    """Up, with a claim of this replica (r0) that nobody confirmed and one of another replica."""

    def __init__(self) -> None:
        super().__init__(down=0)
        self.claims = {("r0", "s1"), ("r9", "s2")}
        self.confirmed: list = []

    def pending(self, older_than_ms=None):
        return sorted(self.claims)

    def take(self, owner, sensor, cutoff_ms=float("inf")):
        if cutoff_ms != float("inf"):  # another replica's claim, younger than the lease
            return None
        self.claims.discard((owner, sensor))
        return Claim(sensor, 1, 1, np.arange(2), np.array([[0.0], [5.0]]))

    def confirm(self, claims):
        self.confirmed += claims


def test_a_restarted_replica_publishes_its_unconfirmed_claims_and_leaves_young_ones_of_others():
    store, acked = Orphaned(), []
    service, shared, _ = service_with(store, acked)
    shared.start(service)
    assert service.publisher.sent == ["forecasts/s1"] and store.confirmed == [("s1", 1)]
    assert store.claims == {("r9", "s2")} and service.metrics.value("forecaster_forecasts_recovered_total") == 1
