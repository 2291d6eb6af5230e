"""Per-sensor scaling and calendar inputs on real training: bundle round trip, the global
statistics for an unseen sensor, metrics and intervals in sensor units, every network family
with the wider input, and the TFLite export."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
from helpers import DATA

import forecaster
from forecaster.evaluate.scores import split_windows
from pipelines import WindowSpec, read_csv
from pipelines.errors import ForecasterError
from pipelines.split import TEST

SPEC = WindowSpec(input_steps=24, horizon=6, features=["HUFL", "OT"], targets=["OT"])


@pytest.fixture(scope="module")
def fleet():
    """Two transformers, one shifted 40 units down (levels far apart), 700 hours each."""
    frame = read_csv(DATA / "ett_two_transformers.csv", sensor_col="sensor")
    frame = frame.groupby("sensor").head(700).reset_index(drop=True)
    frame.loc[frame["sensor"] == "etth2", ["HUFL", "OT"]] -= 40.0
    return frame


@pytest.fixture(scope="module")
def model(fleet):
    return forecaster.train(fleet, SPEC, units=8, epochs=2, seed=1, segment=12, scale="per-sensor",
                            calendar="hour,dow")


def test_bundle_round_trip_keeps_the_statistics_as_plain_numbers_and_the_forecasts(model, fleet, tmp_path):
    path = model.save(tmp_path / "b")
    meta = json.loads((path / "bundle.json").read_text())
    assert set(meta["sensor_scalers"]) == {"etth1", "etth2"}
    assert meta["params"]["scale"] == "per-sensor" and meta["params"]["calendar"] == "hour,dow"
    assert all(isinstance(v, float) for v in meta["sensor_scalers"]["etth2"]["mean"])
    assert meta["sensor_scalers"]["etth2"]["mean"][1] < meta["sensor_scalers"]["etth1"]["mean"][1] - 30
    loaded = forecaster.load(path)
    np.testing.assert_allclose(loaded.predict(fleet)["OT"], model.predict(fleet)["OT"], rtol=0, atol=1e-6)
    assert loaded.network_spec.features[-4:] == ("calendar:hour_sin", "calendar:hour_cos", "calendar:dow_sin",
                                                 "calendar:dow_cos")


def test_a_bundle_that_scales_per_sensor_without_statistics_is_refused(model, tmp_path):
    from forecaster.bundle import read_meta, write_meta

    path = model.save(tmp_path / "b")
    meta = read_meta(path)
    del meta["sensor_scalers"]
    meta.pop("files", None)
    write_meta(path, meta)
    with pytest.raises(ForecasterError, match="no per-sensor statistics"):
        forecaster.load(path)


def test_an_unseen_sensor_is_scaled_by_the_global_statistics(model, fleet):
    sensors, windows, ends = model.latest_windows(fleet)
    assert model.unseen_sensors(["etth1", "freezer-9", "freezer-9"]) == ["freezer-9"]
    as_global = copy.copy(model)
    as_global.sensor_scalers_ = None
    got = model.predict_windows(windows[:1], sensors=["freezer-9"], ends=ends[:1])
    np.testing.assert_allclose(got, as_global.predict_windows(windows[:1], ends=ends[:1]), rtol=0, atol=1e-9)
    own = model.predict_windows(windows[:1], sensors=sensors[:1], ends=ends[:1])
    assert not np.allclose(own, got)  # its own statistics differ from the global ones
    with pytest.raises(ForecasterError, match="sensors="):
        model.predict_windows(windows, ends=ends)
    with pytest.raises(ForecasterError, match="ends="):
        model.predict_windows(windows, sensors=sensors)


def test_metrics_and_intervals_are_in_sensor_units(model, fleet):
    test = split_windows(model, fleet)[0][TEST]
    forecast = model.predict_windows(test.X, sensors=test.sensor, ends=test.origin)
    mae = float(np.abs(forecast - test.y).mean())
    assert mae == pytest.approx(model.metrics_["mae"]["OT"], rel=1e-4)
    lo, hi = model.interval_bounds(test.X, forecast, 0.8)
    inside = ((test.y >= lo) & (test.y <= hi)).mean()
    assert 0.5 < inside <= 1.0  # calibrated on validation errors in sensor units
    assert np.median(hi - lo) < 10 * mae  # widths in sensor units, not scaled ones


FAMILIES = {
    "segment (default)": {},
    "row by row": {"segment": 0},
    "conv front": {"conv": True},
    "channel independent": {"channel_independent": True},
    "linear window": {"linear": "window", "segment": 0},
    "ensemble": {"ensemble": 2},
}


@pytest.mark.parametrize("options", FAMILIES.values(), ids=FAMILIES.keys())
def test_every_network_family_reads_the_calendar_columns(options, fleet):
    frame = fleet[fleet["sensor"] == "etth1"].iloc[:300]
    m = forecaster.train(frame, SPEC, units=4, epochs=1, seed=0, calendar="hour,dow,doy,month", intervals="none",
                         **options)
    assert m.model_.input_shape == (None, 24, 2 + 8)
    assert m.predict(frame).shape == (6, 3)


def test_tflite_export_of_a_calendar_model_gives_the_keras_forecasts(model, fleet, tmp_path):
    from forecaster.export import export_tflite

    path = model.save(tmp_path / "b")
    export_tflite(path)
    edge = forecaster.load(path, runtime="tflite")
    np.testing.assert_allclose(edge.predict(fleet)["OT"], model.predict(fleet)["OT"], rtol=0, atol=1e-4)
