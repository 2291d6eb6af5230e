"""One contract for every network family and both cells: trained, saved, loaded, predicted and
exported, with the same numbers at every step (DESIGN 4.9)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import synthetic_frame

import forecaster
from forecaster.export import export_tflite
from pipelines import WindowSpec

SPEC = WindowSpec(input_steps=24, horizon=6, features=["load", "temp"], targets=["temp"])
TINY = {"units": 4, "epochs": 1, "seed": 5}
FAMILIES = {
    "lstm-stacked": {"cell": "lstm", "layers": 2, "segment": 0},
    "gru-stacked": {"cell": "gru", "layers": 2, "segment": 0},
    "lstm-conv-front": {"cell": "lstm", "conv": True},
    "gru-segment": {"cell": "gru", "segment": 12},
    "lstm-segment": {"cell": "lstm", "segment": 12},
    "gru-segment-ensemble": {"cell": "gru", "segment": 12, "ensemble": 2},
    # the linear path (issue 23) on each kind of network
    "gru-segment-linear-window": {"cell": "gru", "segment": 12, "linear": "window"},
    "lstm-stacked-linear-channel": {"cell": "lstm", "layers": 2, "segment": 0, "linear": "channel"},
    "gru-conv-front-linear-shared": {"cell": "gru", "conv": True, "linear": "shared"},
    "gru-segment-ensemble-linear-window": {"cell": "gru", "segment": 12, "ensemble": 2, "linear": "window"},
    # the network combined with the baselines after training (issue 23, forecaster.combine)
    "gru-segment-combined": {"cell": "gru", "segment": 12, "combine": "baselines"},
    "lstm-stacked-combined": {"cell": "lstm", "layers": 2, "segment": 0, "combine": "baselines"},
    "gru-segment-ensemble-combined": {"cell": "gru", "segment": 12, "ensemble": 2, "combine": "baselines"},
}


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return synthetic_frame(600, sensors=("a", "b"))  # 60 validation rows a sensor: enough windows for intervals


@pytest.fixture(scope="module", params=sorted(FAMILIES))
def family(request, frame, tmp_path_factory):
    """(name, trained model, its bundle directory with a TFLite export)."""
    before = frame.copy(deep=True)
    model = forecaster.train(frame, SPEC, **TINY, **FAMILIES[request.param])
    pd.testing.assert_frame_equal(frame, before)  # training leaves the caller's frame alone
    bundle = model.save(tmp_path_factory.mktemp("family") / request.param)
    return request.param, model, bundle


def test_forecast_shape_and_columns(family, frame):
    _, model, _ = family
    out = model.predict(frame)
    assert list(out.columns) == ["sensor", "ts", "temp"]
    assert out.groupby("sensor").size().to_dict() == {"a": 6, "b": 6}
    assert np.isfinite(out["temp"]).all()
    windows = np.stack([frame[frame.sensor == "a"][["load", "temp"]].to_numpy()[-24:]] * 3)
    assert model.predict_windows(windows).shape == (3, 6, 1)


def test_saved_bundle_loads_to_the_same_forecasts(family, frame):
    _, model, bundle = family
    loaded = forecaster.load(bundle)
    assert loaded.spec == model.spec and loaded.params == model.params
    np.testing.assert_array_equal(loaded.predict(frame)["temp"].to_numpy(), model.predict(frame)["temp"].to_numpy())
    # the conformal intervals are calibrated for every family and travel in bundle.json
    assert model.intervals_.available == ["0.8", "0.95"]
    pd.testing.assert_frame_equal(loaded.predict(frame, interval=0.95), model.predict(frame, interval=0.95))


def test_tflite_export_forecasts_like_keras(family, frame):
    _, model, bundle = family
    _, diff = export_tflite(bundle)
    assert diff <= 1e-4
    edge = forecaster.load(bundle, runtime="tflite")
    np.testing.assert_allclose(edge.predict(frame)["temp"], model.predict(frame)["temp"], atol=1e-3)
    edge_band, keras_band = edge.predict(frame, interval=0.8), model.predict(frame, interval=0.8)
    for column in ("temp_lo", "temp_hi"):  # the same table on the edge runtime
        np.testing.assert_allclose(edge_band[column], keras_band[column], atol=1e-3)


def test_streamed_forecasts_equal_batch_predictions(family, frame):
    """The daemon's path (readings one by one into the rolling window, batch predict) gives what
    `predict` gives on the same rows."""
    import json

    from forecaster.serve.service import ForecastService
    from pipelines.payloads import ParseRules, Reading

    _, model, _ = family
    sent = []

    class Publisher:
        def publish(self, topic, payload, qos=0, retain=False):
            sent.append(json.loads(payload))
            return True

    rules = ParseRules(subscription="sensors/+/readings", features=model.spec.features, known=model.spec.targets)
    service = ForecastService(model, rules=rules, publisher=Publisher(), qos=0)
    rows = frame[frame.sensor == "b"].iloc[:40]
    for ts, values in zip(rows["ts"], rows[list(model.spec.features)].to_numpy().tolist()):
        service.process([Reading("b", ts, tuple(values))])
    assert len(sent) == 40 - 24 + 1
    expected = model.predict(rows.drop(columns="sensor"))["temp"].to_numpy()
    np.testing.assert_allclose([f["temp"] for f in sent[-1]["forecast"]], expected, rtol=0, atol=1e-5)


def test_predict_leaves_the_frame_alone(family, frame):
    _, model, _ = family
    before = frame.copy(deep=True)
    model.predict(frame)
    pd.testing.assert_frame_equal(frame, before)


@pytest.mark.parametrize("name", ["gru-stacked", "lstm-conv-front", "lstm-segment"])
def test_seeded_training_is_reproducible(name, frame):
    runs = [forecaster.train(frame, SPEC, **TINY, **FAMILIES[name]).predict(frame)["temp"] for _ in range(2)]
    np.testing.assert_allclose(runs[0], runs[1], rtol=0, atol=1e-6)
