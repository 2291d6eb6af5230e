"""The network combined with the baselines (issue 23, `forecaster.combine`): the combined network is
exactly its parts; the baselines are the ones `forecaster evaluate` scores; on the validation
windows it is never worse than the network or any baseline at any step; a useless network falls
back to the ridge where the ridge is exact; bundles keep the combination."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import synthetic_frame

import forecaster
from forecaster.combine import ALPHA, GRID, SHRINK, baselines, combined, shrunk, stretches
from forecaster.nn.combine import get_weights, is_combined, network_of
from pipelines import WindowSpec
from pipelines.baselines import LinearWindow, naive_last, seasonal_naive
from pipelines.split import TEST, TRAIN, VALIDATION
from pipelines.windows import cut

SPEC = WindowSpec(input_steps=24, horizon=6, features=["load", "temp"], targets=["temp"])
TINY = {"units": 4, "epochs": 1, "seed": 3, "combine": "baselines"}


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return synthetic_frame(600, sensors=("a", "b"))


@pytest.fixture(scope="module")
def trained(frame):
    """(combined forecaster, its fleet)."""
    model = forecaster.train(frame, SPEC, **TINY)
    return model, model._prepare(frame)


def _windows(fleet, label, spec=SPEC):
    X, y = cut(fleet.values, fleet.of(label), spec)
    return X.astype("float64"), y.astype("float64")


def test_the_combined_network_is_its_parts_in_closed_form(trained):
    model, fleet = trained
    X, _ = _windows(fleet, TEST)
    scale, kernel, bias = get_weights(model.model_)
    network = network_of(model.model_).predict(X, verbose=0).astype("float64")
    expected = scale * network + (X.reshape(len(X), -1) @ kernel + bias).reshape(network.shape)
    np.testing.assert_allclose(model.model_.predict(X, verbose=0), expected, rtol=0, atol=1e-5)
    assert is_combined(model.model_) and not is_combined(network_of(model.model_))


def test_the_baseline_maps_are_the_baselines_evaluate_scores(trained):
    model, fleet = trained
    base = baselines(SPEC, fleet, period=12)
    assert base.names == ["naive", "seasonal_naive", "ridge"]
    X, _ = _windows(fleet, TEST)
    history = X[:, :, [SPEC.features.index("temp")]]
    Xt, yt = _windows(fleet, TRAIN)
    ridge = LinearWindow(alpha=ALPHA, last_index=[1]).fit(Xt, yt)  # the closed form on all training windows at once
    got = base.forecast(X).reshape(3, len(X), SPEC.horizon, 1)
    for k, expected in enumerate([naive_last(history, 6), seasonal_naive(history, 6, 12), ridge.predict(X)]):
        np.testing.assert_allclose(got[k], expected, rtol=0, atol=1e-5, err_msg=base.names[k])


def test_on_validation_each_step_is_the_best_blend_of_the_network_and_its_baseline(trained):
    model, fleet = trained
    per_step = combined(model, fleet, smooth=0.0, shrink=0.0)  # each step's weight on that step alone, not moved
    X, y = _windows(fleet, VALIDATION)
    Xt, yt = _windows(fleet, TRAIN)

    def step_mae(forecast, target=y):
        return np.abs(target - forecast.reshape(target.shape)).mean(axis=0)

    base = baselines(SPEC, fleet, period=24)
    seen = [np.concatenate([a, b]) for a, b in zip(base.forecast(Xt), base.forecast(X))]
    best = np.argmin([step_mae(f, np.concatenate([yt, y])) for f in seen], axis=0)  # per step, train + validation
    network = network_of(model.model_).predict(X, verbose=0).astype("float64")
    forecasts = base.forecast(X).reshape(len(base.names), *network.shape)
    picked = np.take_along_axis(forecasts, best[None, None], axis=0)[0]
    mine = step_mae(per_step.predict(X, verbose=0))
    assert np.all(mine <= step_mae(network) + 1e-5) and np.all(mine <= step_mae(picked) + 1e-5)
    blends = [step_mae((1 - w) * network + w * picked) for w in GRID]  # brute force
    np.testing.assert_allclose(mine, np.min(blends, axis=0), rtol=0, atol=1e-5)


def test_one_weight_for_the_horizon_is_never_worse_on_validation_overall(trained):
    model, fleet = trained
    pooled = combined(model, fleet, smooth=1.0, shrink=0.0)
    X, y = _windows(fleet, VALIDATION)
    scale, _, _ = get_weights(pooled)
    assert np.all(scale == scale[0])  # one weight per target
    mine = np.abs(y - pooled.predict(X, verbose=0)).mean()
    assert mine <= np.abs(y - network_of(pooled).predict(X, verbose=0)).mean() + 1e-6


def test_the_weight_moves_toward_the_baseline_as_far_as_the_validation_stretches_say(trained, monkeypatch):
    model, fleet = trained
    evidence = stretches(model.network_spec, fleet)
    assert 0 < evidence < fleet.count(VALIDATION)  # two sensors' validation rows in spans of 30
    errors = np.ones((len(GRID), SPEC.horizon))
    errors[2] = 0.5  # as if the validation windows favoured GRID[2] = 0.2 (the tiny network here favours 1)
    monkeypatch.setattr("forecaster.combine.blend_errors", lambda *args: errors)
    moved = 1.0 - get_weights(combined(model, fleet))[0]
    expected = shrunk(np.array([GRID[2]]), evidence, SHRINK)[0]
    assert SHRINK > 0 and expected > GRID[2]
    np.testing.assert_allclose(moved, expected)
    np.testing.assert_allclose(1.0 - get_weights(combined(model, fleet, shrink=0.0))[0], GRID[2])


def _driven_frame(n: int = 900) -> pd.DataFrame:
    """``out`` is ``drive`` 10 steps earlier: from a 24-step window, a linear map forecasts it exactly."""
    rng = np.random.default_rng(1)
    drive = rng.normal(size=n + 10)
    ts = pd.date_range("2026-01-01", periods=n, freq="1h", tz="UTC")
    return pd.DataFrame({"ts": ts, "drive": drive[10:], "out": drive[:-10]})


def test_a_useless_network_falls_back_to_the_ridge():
    frame = _driven_frame()
    spec = WindowSpec(input_steps=24, horizon=6, features=["drive", "out"], targets=["out"])
    model = forecaster.train(frame, spec, units=4, epochs=1, norm="none", combine="baselines", intervals=())
    network = network_of(model.model_)
    network.set_weights([np.zeros_like(w) for w in network.get_weights()])  # forecasts the scaled mean: useless
    fleet = model._prepare(frame)
    model.model_, model._predictor = combined(model, fleet), None
    X, y = _windows(fleet, TEST, spec)
    ridge = LinearWindow(alpha=ALPHA, last_index=[1]).fit(*_windows(fleet, TRAIN, spec))
    unscale = model.scaler_.inverse_transform
    ridge_mae = np.abs(unscale(y, [1]) - unscale(ridge.predict(X), [1])).mean()
    mine = np.abs(unscale(y, [1]) - model.predict_windows(unscale(X, [0, 1]))).mean()
    zero_mae = np.abs(unscale(y, [1]) - unscale(np.zeros_like(y), [1])).mean()
    assert ridge_mae < 0.05 * zero_mae  # the ridge is (nearly) exact here, the network useless
    assert mine == pytest.approx(ridge_mae, rel=1e-3, abs=1e-5)


def test_the_bundle_keeps_the_combination(trained, frame, tmp_path):
    model, _ = trained
    loaded = forecaster.load(model.save(tmp_path / "combined"))
    assert loaded.params.combine == "baselines" and is_combined(loaded.model_)
    for a, b in zip(get_weights(model.model_), get_weights(loaded.model_)):
        np.testing.assert_array_equal(a, b)
    pd.testing.assert_frame_equal(loaded.predict(frame), model.predict(frame), rtol=0, atol=1e-5)


def test_a_warm_start_continues_the_network_and_combines_again(trained, frame, tmp_path):
    model, _ = trained
    bundle = model.save(tmp_path / "parent")
    child = forecaster.train(frame, SPEC, init_from=bundle, epochs=1)
    assert child.params.combine == "baselines" and is_combined(child.model_)
    assert not is_combined(network_of(child.model_))  # one combination, not one inside another
