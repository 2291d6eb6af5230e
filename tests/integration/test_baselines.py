"""Baselines and season detection."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines.baselines import (
    LinearWindow,
    autocorrelation_period,
    detect_period,
    naive_last,
    seasonal_naive,
    seasonal_naive_along,
)
from pipelines.errors import ForecasterError


def test_naive_and_seasonal_naive_by_hand():
    history = np.arange(1.0, 7.0).reshape(1, 6, 1)  # 1..6
    assert naive_last(history, 3)[0, :, 0].tolist() == [6.0, 6.0, 6.0]
    assert seasonal_naive(history, 5, 3)[0, :, 0].tolist() == [4.0, 5.0, 6.0, 4.0, 5.0]
    with pytest.raises(ForecasterError, match="period"):
        seasonal_naive(history, 2, 7)


def test_detect_period_from_cadence_and_autocorrelation():
    assert detect_period(np.zeros(5), "1h", 168) == 24
    assert detect_period(np.zeros(5), "15min", 720) == 96
    assert detect_period(np.zeros(5), "1D", 30) == 7
    t = np.arange(600)
    assert detect_period(np.sin(2 * np.pi * t / 17), "7min", 100) == 17
    assert autocorrelation_period(np.zeros(50), 10) is None


def test_linear_window_learns_a_linear_rule():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5, 2))
    y = (X[:, -1:, :1] * 2 + X[:, :1, 1:]).repeat(3, axis=1)
    model = LinearWindow(alpha=1e-6).fit(X, y)
    np.testing.assert_allclose(model.predict(X[:4]), y[:4], atol=1e-4)
    with pytest.raises(ForecasterError, match="not fitted"):
        LinearWindow().predict(X)


def test_relative_linear_window_follows_a_level_shift():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 6, 1)).cumsum(axis=1)
    y = X[:, -1:, :] + 0.5 * (X[:, -1:, :] - X[:, -2:-1, :])  # a linear rule in relative terms
    model = LinearWindow(alpha=1e-6, last_index=[0]).fit(X, y)
    np.testing.assert_allclose(model.predict(X[:3] + 100.0), y[:3] + 100.0, atol=1e-4)


@pytest.mark.parametrize("alpha", [1.0, 1e-3])
def test_numpy_ridge_equals_scikit_learns(alpha):
    """The linear baseline needs no scikit-learn (the edge install has none) and gives its numbers."""
    from sklearn.linear_model import Ridge

    from pipelines.baselines import ridge

    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(300, 48)), rng.normal(size=(300, 6))
    coef, intercept = ridge(X, y, alpha)
    np.testing.assert_allclose(X @ coef + intercept, Ridge(alpha=alpha).fit(X, y).predict(X), atol=1e-10)


def test_seasonal_naive_along_the_series_equals_the_window_rule_and_reaches_past_it():
    rng = np.random.default_rng(3)
    values, segment = rng.normal(size=(60, 2)), np.zeros(60, int)
    L, H, origins = 12, 7, np.arange(11, 60 - 7)
    history = np.stack([values[o - L + 1 : o + 1] for o in origins])
    for period in (1, 5, 12):  # a season inside the window: the window rule
        along, ok = seasonal_naive_along(values, segment, origins, H, period)
        assert ok.all()
        np.testing.assert_array_equal(along, seasonal_naive(history, H, period))
    along, ok = seasonal_naive_along(values, segment, origins, H, 30)  # longer than the window
    assert ok.tolist() == [o >= 29 for o in origins]
    o = origins[ok][0]
    np.testing.assert_array_equal(along[ok][0], values[o - 29 : o - 29 + H])
    np.testing.assert_array_equal(along[~ok][0], np.repeat(values[origins[0]][None], H, axis=0))  # last value


def test_seasonal_naive_along_never_reaches_across_a_cut_gap():
    values = np.arange(20.0)[:, None]
    segment = np.repeat([0, 1], 10)
    _, ok = seasonal_naive_along(values, segment, np.array([12, 14, 15]), 2, period=5)
    assert ok.tolist() == [False, True, True]  # row 12 - 4 = 8 is in the segment before the gap
