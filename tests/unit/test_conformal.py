"""Split conformal intervals (`pipelines.conformal`): the finite-sample quantile, coverage on
exchangeable data, the window scale, the plain-JSON table and the one-line errors."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from pipelines.conformal import Conformal, conformal_quantile, level_key, parse_levels, target_history, window_scale
from pipelines.errors import ForecasterError
from pipelines.windows import WindowSpec


def test_conformal_quantile_is_the_ceil_n_plus_1_q_th_smallest():
    scores = np.arange(1.0, 101.0)[::-1]  # 100 scores, unsorted
    assert conformal_quantile(scores, 0.8) == 81  # ceil(101 * 0.8) = 81
    assert conformal_quantile(scores, 0.95) == 96  # ceil(101 * 0.95) = 96 (not 95: finite-sample correction)
    assert conformal_quantile(np.arange(19.0), 0.95) == 18 and conformal_quantile(np.arange(18.0), 0.95) is None


def _heteroscedastic(n, seed, horizon=3):
    """Windows whose noise is proportional to the window's own volatility (a random walk's step)."""
    rng = np.random.default_rng(seed)
    sigma = rng.uniform(0.1, 3.0, size=(n, 1, 1))
    history = np.cumsum(rng.normal(size=(n, 12, 1)) * sigma, axis=1)
    forecast = np.repeat(history[:, -1:, :], horizon, axis=1)
    actual = forecast + rng.normal(size=(n, horizon, 1)) * sigma * np.sqrt(np.arange(1, horizon + 1))[None, :, None]
    return actual, forecast, history


@pytest.mark.parametrize("residual", ["absolute", "signed"])
@pytest.mark.parametrize("scale", ["none", "window"])
def test_coverage_on_exchangeable_windows_is_nominal_at_every_step(residual, scale):
    calibration, test = _heteroscedastic(2000, 0), _heteroscedastic(20000, 1)
    model = Conformal(levels=(0.8, 0.95), residual=residual, scale=scale).fit(*calibration)
    actual, forecast, history = test
    for level in (0.8, 0.95):
        lo, hi = model.bounds(forecast, level, history)
        coverage = ((actual >= lo) & (actual <= hi)).mean(axis=0)[:, 0]
        assert np.all(np.abs(coverage - level) < 0.025), (level, coverage)


def test_scaling_by_the_window_keeps_coverage_in_calm_and_volatile_windows_alike():
    calibration, (actual, forecast, history) = _heteroscedastic(2000, 0), _heteroscedastic(20000, 1)
    volatile = window_scale(history)[:, 0, 0] > np.median(window_scale(history))
    coverage = {}
    for scale in ("none", "window"):
        lo, hi = Conformal(levels=(0.8,), scale=scale).fit(*calibration).bounds(forecast, 0.8, history)
        inside = ((actual >= lo) & (actual <= hi)).mean(axis=(1, 2))
        coverage[scale] = (inside[~volatile].mean(), inside[volatile].mean())
    assert coverage["none"][0] > 0.9 and coverage["none"][1] < 0.7  # one width for all: wrong in both halves
    assert all(abs(c - 0.8) < 0.05 for c in coverage["window"])


def test_signed_residuals_follow_a_biased_model():
    rng = np.random.default_rng(2)
    actual = rng.normal(size=(999, 2, 1)) + 5.0  # the model is 5 too low
    forecast = np.zeros_like(actual)
    lo, hi = Conformal(levels=(0.8,), residual="signed", scale="none").fit(actual, forecast).bounds(forecast, 0.8)
    assert np.all(lo > 3.0) and np.all(hi < 7.0)
    lo, hi = Conformal(levels=(0.8,), residual="absolute", scale="none").fit(actual, forecast).bounds(forecast, 0.8)
    assert np.all(lo < -5.0)  # symmetric: it has to reach over the bias on both sides


def test_the_table_is_plain_json_and_round_trips():
    spec = WindowSpec(input_steps=12, horizon=3, features=["x"], targets=["x"])
    model = Conformal().fit(*_heteroscedastic(500, 0))
    data = json.loads(json.dumps(model.to_dict(), allow_nan=False))
    assert data["residual"] == "signed" and data["scale"] == "window" and data["windows"] == 500
    assert set(data["levels"]) == {"0.8", "0.95"} and np.shape(data["levels"]["0.95"]["upper"]) == (3, 1)
    again = Conformal.from_dict(data, spec=spec)
    _, forecast, history = _heteroscedastic(10, 5)
    for a, b in zip(model.bounds(forecast, 0.95, history), again.bounds(forecast, 0.95, history)):
        np.testing.assert_array_equal(a, b)


def test_a_table_of_the_wrong_shape_or_broken_is_one_line():
    model = Conformal().fit(*_heteroscedastic(500, 0))
    other = WindowSpec(input_steps=12, horizon=4, features=["x"], targets=["x"])
    with pytest.raises(ForecasterError, match=r"^b: bundle.json interval table at level 0.8 is not finite numbers of "
                                              r"shape \(4, 1\)$"):
        Conformal.from_dict(model.to_dict(), spec=other, source="b")
    with pytest.raises(ForecasterError, match="^b: bundle.json has no valid interval table"):
        Conformal.from_dict({"levels": {}}, spec=other, source="b")


def test_too_few_calibration_windows_leave_the_level_out(caplog):
    actual, forecast, history = _heteroscedastic(30, 0)
    with caplog.at_level(logging.INFO):  # `train` prints the levels it calibrated; asking for another is an error
        model = Conformal(levels=(0.8, 0.95)).fit(actual, forecast, history)  # signed 0.95 needs 39
    assert model.available == ["0.8"]
    assert "interval level 0.95 left out: 30 calibration windows are too few" in caplog.text
    with pytest.raises(ForecasterError, match="^no interval at level 0.95 in this model; calibrated levels: 0.8$"):
        model.bounds(forecast, 0.95, history)


def test_levels_are_checked_and_named_canonically():
    assert parse_levels("0.95,0.8,0.95") == (0.8, 0.95) and parse_levels(None) == () and parse_levels("none") == ()
    assert level_key(0.9500000001) == "0.95"
    for bad in ("0", "1", "nan", "abc", "-0.5"):
        with pytest.raises(ForecasterError, match="^an interval level must be a number between 0 and 1"):
            parse_levels(bad)
    with pytest.raises(ForecasterError, match="`residual` must be one of"):
        Conformal(residual="relative")


def test_window_scale_and_target_history():
    history = np.array([[[0.0], [1.0], [3.0]]])
    assert window_scale(history).tolist() == [[[1.5]]]
    spec = WindowSpec(input_steps=3, horizon=1, features=["a", "b"], targets=["b"])
    windows = np.arange(6.0).reshape(1, 3, 2)
    assert target_history(windows, spec).tolist() == [[[1.0], [3.0], [5.0]]]
    assert target_history(windows, WindowSpec(input_steps=3, horizon=1, features=["a", "b"], targets=["c"])) is None
