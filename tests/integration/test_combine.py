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
from forecaster.combine import (
    ALPHA,
    BLOCKS,
    GRID,
    baseline_errors,
    baselines,
    blend_errors,
    combined,
    with_calendar_ridge,
)
from forecaster.nn.combine import get_weights, is_combined, network_of
from pipelines import WindowSpec
from pipelines.baselines import LinearWindow, naive_last, seasonal_naive
from pipelines.fleet import FleetSeries
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


def _weekly_frame(weeks: int = 10) -> pd.DataFrame:
    """``temp`` follows a weekly wave, plus noise: a 12-hour window cannot tell where the week is going."""
    ts = pd.date_range("2026-01-05", periods=weeks * 168, freq="1h", tz="UTC")  # a Monday
    noise = np.random.default_rng(2).normal(0, 0.3, len(ts))
    week = np.asarray((ts.day_of_week + ts.hour / 24) / 7)
    return pd.DataFrame({"ts": ts, "load": noise[::-1].copy(), "temp": 18 + 3 * np.sin(2 * np.pi * week) + noise})


def test_at_long_horizons_the_network_reads_the_calendar_and_the_ridge_where_validation_says():
    """The default (calendar "auto") gives a long-horizon network the calendar columns; its ridge reads the
    features as evaluate's does, and also the calendar columns where that lowers the validation MAE."""
    frame = _weekly_frame()
    spec = WindowSpec(input_steps=12, horizon=24, features=["load", "temp"], targets=["temp"])
    model = forecaster.train(frame, spec, units=4, epochs=1, seed=3, intervals=())
    ns = model.network_spec
    assert model.params.calendar == "hour,dow" and len(ns.features) == 6
    fleet = model._prepare(frame)
    on_features, full = baselines(ns, fleet, 24, inputs=[0, 1]), baselines(ns, fleet, 24)
    ridge = on_features.names.index("ridge")
    assert on_features.kernels[ridge].reshape(12, 6, -1)[:, :2].any()
    assert not on_features.kernels[ridge].reshape(12, 6, -1)[:, 2:].any()  # no weight on the calendar columns
    X, _ = _windows(fleet, TEST, ns)
    Xt, yt = _windows(fleet, TRAIN, ns)
    fitted = LinearWindow(alpha=ALPHA, last_index=[1]).fit(Xt[:, :, :2], yt)
    np.testing.assert_allclose(on_features.forecast(X)[ridge].reshape(len(X), 24, 1), fitted.predict(X[:, :, :2]),
                               rtol=0, atol=1e-5)  # evaluate's ridge, on the features
    chosen, takes = with_calendar_ridge(ns, fleet, on_features, 24)
    Xv, yv = _windows(fleet, VALIDATION, ns)
    val_mae = [np.abs(yv.reshape(len(yv), -1) - b.forecast(Xv)[ridge]).mean() for b in (on_features, full)]
    assert val_mae[1] < 0.8 * val_mae[0] and takes.tolist() == [True]  # the week is in the calendar
    np.testing.assert_array_equal(chosen.kernels[ridge], full.kernels[ridge])
    never = combined(model, fleet, calendar_ridge=False)
    assert not get_weights(never)[1].reshape(12, 6, -1)[:, 2:].any()  # the ridge on the features alone


def test_the_blend_errors_are_each_block_of_validation_windows_by_brute_force(trained, monkeypatch):
    model, fleet = trained
    chunks = FleetSeries.chunks
    monkeypatch.setattr(FleetSeries, "chunks", lambda self, label, size=7: chunks(self, label, size))  # blocks span chunks
    base = baselines(SPEC, fleet, period=24)
    pick = np.argmin(baseline_errors(SPEC, fleet, base), axis=0)
    network = network_of(model.model_)
    got = blend_errors(SPEC, fleet, network, base, pick)
    X, y = _windows(fleet, VALIDATION)
    nn = network.predict(X, verbose=0).astype("float64").reshape(len(X), -1)
    picked = base.forecast(X)[pick, :, np.arange(len(pick))].T
    windows = np.stack([np.abs(y.reshape(len(y), -1) - (1 - w) * nn - w * picked) for w in GRID], axis=1)
    expected = np.stack([b.mean(axis=0) for b in np.array_split(windows, BLOCKS)])  # (B, G, H * T)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-9)


def test_on_validation_each_step_takes_the_largest_weight_within_one_standard_error_of_the_best(trained):
    model, fleet = trained
    per_step = combined(model, fleet, smooth=0.0)  # each step's weight on that step alone
    base = baselines(SPEC, fleet, period=24)
    blocks = blend_errors(SPEC, fleet, network_of(model.model_), base,
                          np.argmin(baseline_errors(SPEC, fleet, base), axis=0))
    chosen = 1.0 - get_weights(per_step)[0][:, 0]
    for h in range(SPEC.horizon):
        d = blocks[:, :, h] - blocks[:, np.argmin(blocks[:, :, h].mean(axis=0)), h][:, None]
        within = GRID[d.mean(axis=0) <= d.std(axis=0, ddof=1) / np.sqrt(BLOCKS) + 1e-12]
        assert chosen[h] == pytest.approx(within.max()), h


def test_one_weight_for_the_horizon_per_target(trained):
    model, fleet = trained
    scale, _, _ = get_weights(combined(model, fleet, smooth=1.0))
    assert np.all(scale == scale[0])


def test_a_weight_the_validation_blocks_clearly_favour_is_kept_and_an_unclear_one_is_not(trained, monkeypatch):
    model, fleet = trained
    clear = np.ones((BLOCKS, len(GRID), SPEC.horizon)) + np.linspace(0, 1, BLOCKS)[:, None, None]
    clear[:, 2] -= 0.2  # GRID[2] = 0.2 better in every block (as if; the tiny network here favours 1)
    monkeypatch.setattr("forecaster.combine.blend_errors", lambda *args: clear)
    np.testing.assert_allclose(1.0 - get_weights(combined(model, fleet))[0], GRID[2])
    unclear = clear.copy()
    unclear[::2, 2] += 0.5  # better on average, worse in half the blocks: within one standard error
    monkeypatch.setattr("forecaster.combine.blend_errors", lambda *args: unclear)
    np.testing.assert_allclose(1.0 - get_weights(combined(model, fleet))[0], 1.0)


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
