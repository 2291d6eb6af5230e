"""The parts of a hot reload without a broker or TensorFlow: the swap between two batches, which
windows survive it, which bundles are refused, and when a changing directory counts as settled."""

from __future__ import annotations

import json
import logging
import os
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from forecaster.serve.formats import model_outputs
from forecaster.serve.reload import Reloader, check_replacement, fresh_windows
from forecaster.serve.service import ForecastService
from pipelines.errors import ForecasterError
from pipelines.payloads import ParseRules, Reading
from pipelines.stream import WindowRegistry

SPEC = SimpleNamespace(input_steps=2, horizon=1, features=("x",), targets=("x",))


def fake(value: float, *, spec=SPEC, freq: str = "h", max_gap: int = 0, version: int = 1):
    """A model forecasting ``value`` whatever the window, with an identity."""
    return SimpleNamespace(spec=spec, freq_=freq, max_gap=max_gap, name="m", intervals_=None,
                           identity={"name": "m", "version": version, "hash": f"h{version}"},
                           predict_windows=lambda w, **_: np.full((len(w), 1, 1), value))


class Sent:
    def __init__(self) -> None:
        self.sent: list[dict] = []

    def publish(self, topic, payload, qos=0, retain=False) -> bool:
        self.sent.append(json.loads(payload))
        return True


def reading(k: int) -> Reading:
    return Reading("s1", pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(hours=k), (float(k),))


def test_the_swap_serves_the_new_model_from_the_next_reading_with_the_windows_kept():
    sent = Sent()
    service = ForecastService(fake(1.0), rules=ParseRules(subscription="s/+/r", features=("x",)), publisher=sent)
    service.process([reading(0)])
    service.process([reading(1)])
    new = fake(2.0, version=2)
    windows = service.windows
    service.swap(new, model_outputs(new, "json"), None)
    info = service.metrics.registry.get_sample_value("forecaster_model_info", {"name": "m", "version": "2", "hash": "h2"})
    assert service.windows is windows and info == 1
    service.process([reading(2)])  # the window holds readings 1 and 2 at once: no refill
    assert [(p["model"]["version"], p["forecast"][0]["x"]) for p in sent.sent] == [(1, 1.0), (2, 2.0)]


def test_windows_are_reset_when_the_new_model_reads_other_windows(caplog):
    registry = WindowRegistry(length=2, n_columns=1, step_ns=3_600_000_000_000, max_gap=0, aggregate="mean",
                              grace_ns=3_600_000_000_000, max_sensors=7)
    registry.get("a").push(0, [1.0])
    assert fresh_windows(registry, fake(1.0), fake(2.0, version=2), follow_cadence=True) is None
    longer = SimpleNamespace(**{**vars(SPEC), "input_steps": 5})
    with caplog.at_level(logging.WARNING):
        fresh = fresh_windows(registry, fake(1.0), fake(2.0, spec=longer, freq="30min", max_gap=2),
                              follow_cadence=True)
    assert len(fresh) == 0 and fresh.max_sensors == 7
    assert fresh.settings == {"length": 5, "n_columns": 1, "step_ns": 1_800_000_000_000, "max_gap": 2,
                              "aggregate": "mean", "grace_ns": 1_800_000_000_000}
    [line] = [r.getMessage() for r in caplog.records]
    assert "windows of 1 sensor(s) are reset" in line and "input_steps 2 -> 5, cadence h -> 30min, max_gap 0 -> 2" in line
    kept_grace = fresh_windows(registry, fake(1.0), fake(2.0, freq="30min"), follow_cadence=False)
    assert kept_grace.settings["grace_ns"] == 3_600_000_000_000  # an explicit --slot-grace stays


@pytest.mark.parametrize(("change", "message"), [
    ({"features": ("x", "y")}, "its features"), ({"targets": ("y",)}, "its targets"), ({"horizon": 3}, "its horizon"),
])
def test_a_bundle_with_other_outputs_is_refused(change, message):
    other = fake(2.0, spec=SimpleNamespace(**{**vars(SPEC), **change}))
    with pytest.raises(ForecasterError, match=f"{message} .* restart the daemon to serve it"):
        check_replacement(fake(1.0), other, ())


def test_replicas_refuse_a_bundle_with_other_windows_and_take_one_with_the_same():
    longer = fake(2.0, spec=SimpleNamespace(**{**vars(SPEC), "input_steps": 5}))
    check_replacement(fake(1.0), longer, ())  # one process: its windows are reset instead
    with pytest.raises(ForecasterError, match=r"windows differ \(input_steps 2 -> 5\) .* restart the replicas"):
        check_replacement(fake(1.0), longer, (), shared=True)
    check_replacement(fake(1.0), fake(2.0, version=2), (), shared=True)


def test_a_bundle_without_a_served_interval_level_is_refused():
    check_replacement(fake(1.0), fake(2.0), ())
    with pytest.raises(ForecasterError, match="no prediction interval at the served level 0.95"):
        check_replacement(fake(1.0), fake(2.0), (0.95,))
    calibrated = fake(2.0)
    calibrated.intervals_ = SimpleNamespace(available=["0.8", "0.95"])
    check_replacement(fake(1.0), calibrated, (0.95,))


def test_a_change_counts_once_the_directory_has_settled(tmp_path):
    (tmp_path / "model.keras").write_bytes(b"1")
    daemon = SimpleNamespace(config=SimpleNamespace(bundle=str(tmp_path), watch=True, watch_interval=1.0))
    reloader = Reloader(daemon)
    assert not reloader._settled_change()  # nothing changed
    (tmp_path / "model.keras").write_bytes(b"22")
    assert not reloader._settled_change()  # changed since the last look: maybe still being written
    assert reloader._settled_change()  # the same twice: settled, and not tried yet
    reloader._tried = reloader._signature()
    assert not reloader._settled_change()  # tried already
    os.utime(tmp_path / "model.keras", ns=(1, 1))
    assert not reloader._settled_change() and reloader._settled_change()
