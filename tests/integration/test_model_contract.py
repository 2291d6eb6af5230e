"""One contract for every recurrent cell: shapes, save/load, inputs untouched, reproducible."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from helpers import ETT_COLUMNS, synthetic_frame

import forecaster
from pipelines import WindowSpec
from pipelines.split import SplitSpec, split_labels

CELLS = ["lstm", "gru"]


@pytest.fixture(scope="module", params=CELLS)
def trained(request, ett_small):
    spec = WindowSpec(input_steps=16, horizon=4, features=ETT_COLUMNS, targets=["OT", "HUFL"])
    frame = ett_small.copy()
    model = forecaster.train(frame, spec, cell=request.param, layers=2, units=4, epochs=1, seed=3)
    return model, frame, ett_small


def test_output_shape_and_units(trained):
    model, frame, _ = trained
    out = model.predict(frame)
    assert list(out.columns) == ["ts", "OT", "HUFL"] and len(out) == 4
    assert out["ts"].iloc[0] == frame["date"].iloc[-1] + pd.Timedelta("1h")
    # in sensor units: near the recent level of OT, not near 0 (scaled)
    assert abs(out["OT"].iloc[0] - frame["OT"].iloc[-1]) < 5 * frame["OT"].std()
    windows = np.stack([frame[ETT_COLUMNS].to_numpy()[-16:]] * 3)
    assert model.predict_windows(windows).shape == (3, 4, 2)


def test_inputs_are_not_mutated(trained):
    model, frame, original = trained
    before = frame.copy(deep=True)
    model.predict(frame)
    pd.testing.assert_frame_equal(frame, before)
    pd.testing.assert_frame_equal(frame, original)


def test_save_load_gives_identical_forecasts(trained, tmp_path):
    model, frame, _ = trained
    model.save(tmp_path / "b")
    loaded = forecaster.load(tmp_path / "b")
    assert loaded.spec == model.spec and loaded.params == model.params
    np.testing.assert_array_equal(loaded.predict(frame)["OT"].to_numpy(), model.predict(frame)["OT"].to_numpy())


@pytest.mark.parametrize("cell", CELLS)
def test_seeded_training_is_reproducible(cell):
    frame = synthetic_frame(200)
    spec = WindowSpec(input_steps=12, horizon=3, features=["load", "temp"], targets=["temp"])
    runs = [forecaster.train(frame, spec, cell=cell, units=4, epochs=2, seed=7).predict(frame) for _ in range(2)]
    np.testing.assert_allclose(runs[0]["temp"], runs[1]["temp"], rtol=0, atol=1e-6)


def test_fast_path_equals_keras_predict(tiny_model, ett_small):
    windows = np.stack([ett_small[ETT_COLUMNS].to_numpy()[i : i + 24] for i in range(0, 600, 7)])
    scaled = tiny_model.scaler_.transform(windows)
    ours = tiny_model._predict_scaled(scaled)
    keras_out = tiny_model.model_.predict(scaled.astype("float32"), verbose=0)
    np.testing.assert_allclose(ours, keras_out, atol=1e-5)


def test_scaler_sees_training_rows_only():
    frame = synthetic_frame(300)
    split = SplitSpec(val=0.2, test=0.2)
    # make the later rows wildly different: a leak would move the scaler's mean
    frame.loc[frame.index[200:], "temp"] += 1000.0
    spec = WindowSpec(input_steps=8, horizon=2, features=["load", "temp"], targets=["temp"])
    model = forecaster.train(frame, spec, units=2, epochs=1, split=split)
    from pipelines.series import prepare

    data = prepare(frame, spec.columns)
    labels = split_labels(data.series["a"].slots, split.borders(data))
    train_rows = data.series["a"].values[labels == 0]
    assert len(train_rows) == 180
    np.testing.assert_allclose(model.scaler_.mean_, train_rows.mean(axis=0))


def test_many_sensors_one_model():
    frame = synthetic_frame(120, sensors=("s1", "s2", "s3"))
    spec = WindowSpec(input_steps=12, horizon=3, features=["load", "temp"], targets=["temp"])
    model = forecaster.train(frame, spec, units=4, epochs=1)
    out = model.predict(frame)
    assert list(out.columns) == ["sensor", "ts", "temp"]
    assert out.groupby("sensor").size().to_dict() == {"s1": 3, "s2": 3, "s3": 3}
    # each sensor's forecast comes from its own window
    alone = model.predict(frame[frame.sensor == "s2"])
    np.testing.assert_allclose(alone["temp"], out[out.sensor == "s2"]["temp"], atol=1e-6)


def test_too_short_series_is_a_clear_error(tiny_model, ett_small):
    with pytest.raises(forecaster.DataError, match="need 24 regular rows at the end of the series"):
        tiny_model.predict(ett_small.iloc[:10])


def test_long_gap_at_the_end_means_too_few_rows(tiny_model, ett_small):
    frame = pd.concat([ett_small.iloc[:500], ett_small.iloc[510:520]])
    with pytest.raises(forecaster.DataError, match="found 10"):
        tiny_model.predict(frame)


def test_unfitted_use_is_an_error():
    spec = WindowSpec(input_steps=2, horizon=1, features=["a"], targets=["a"])
    with pytest.raises(forecaster.ForecasterError, match="not fitted"):
        forecaster.Forecaster(spec=spec).predict(pd.DataFrame({"ts": [], "a": []}))


@pytest.mark.parametrize("bad", [{"dropout": 1.5}, {"cell": "rnn"}, {"units": 0}, {"layers": True}, {"norm": "median"}])
def test_bad_params_are_errors_before_any_training(bad, ett_small):
    spec = WindowSpec(input_steps=2, horizon=1, features=["OT"], targets=["OT"])
    with pytest.raises(forecaster.ForecasterError, match="must be"):
        forecaster.train(ett_small, spec, **bad)


def test_unknown_option_is_an_error_that_names_it(ett_small):
    """No silent pass-through: every keyword of `train` is a declared `ModelParams` option."""
    spec = WindowSpec(input_steps=2, horizon=1, features=["OT"], targets=["OT"])
    with pytest.raises(forecaster.ForecasterError, match=r"unknown model option\(s\) \['unit', 'windows'\]"):
        forecaster.train(ett_small, spec, unit=4, windows=3)


def test_train_keywords_are_the_declared_options():
    import inspect
    from dataclasses import fields

    from forecaster.params import ModelParams

    keywords = inspect.signature(forecaster.train).parameters
    for f in fields(ModelParams):
        assert keywords[f.name].default == f.default
    assert "residual" not in keywords and "model" not in keywords


def test_params_and_overrides_combine_and_model_is_a_deprecated_alias(ett_small):
    from forecaster.params import ModelParams

    spec = WindowSpec(input_steps=8, horizon=2, features=["OT"], targets=["OT"])
    frame = ett_small.iloc[:120]
    model = forecaster.train(frame, spec, ModelParams(cell="lstm", units=4, segment=0), epochs=1, layers=2)
    assert (model.params.cell, model.params.units, model.params.layers, model.params.segment) == ("lstm", 4, 2, 0)
    with pytest.warns(FutureWarning, match="`model` is deprecated and will be removed; use `cell`") as record:
        with pytest.raises(forecaster.ForecasterError, match="`cell` must be one of"):  # checked as `cell`
            forecaster.train(frame, spec, model="rnn")
    assert record[0].filename == __file__  # the warning points at the caller's line
    with warnings.catch_warnings():  # (not inside pytest.warns, which would re-raise TensorFlow's own warnings)
        warnings.filterwarnings("ignore", "`model` is deprecated", FutureWarning)
        alias = forecaster.train(frame, spec, model="lstm", units=4, segment=0, epochs=1)
    assert alias.params.cell == "lstm"
