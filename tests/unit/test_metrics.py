"""Each metric on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines.metrics import mae, mape, mase, mase_scale, mse, near_zero, rmse, smape

A = np.array([2.0, 4.0, 0.0, 5.0])
P = np.array([3.0, 2.0, 1.0, 5.0])  # errors 1, -2, 1, 0


def test_mae_mse_rmse():
    assert mae(A, P) == pytest.approx(1.0)  # (1 + 2 + 1 + 0) / 4
    assert mse(A, P) == pytest.approx(1.5)  # (1 + 4 + 1 + 0) / 4
    assert rmse(A, P) == pytest.approx(np.sqrt(1.5))


def test_mape_leaves_out_zero_actuals():
    # |1|/2 = 0.5, |2|/4 = 0.5, (zero skipped), 0/5 = 0 -> mean 1/3 -> 33.33 %
    assert mape(A, P) == pytest.approx(100 / 3)
    assert np.isnan(mape(np.zeros(3), np.ones(3)))


def test_mape_guard_relative_to_the_series_scale():
    actual = np.array([[0.05, 20.0], [4.0, 200.0]])  # rows: points; columns: two targets
    predicted = np.array([[1.05, 15.0], [3.0, 100.0]])
    eps = near_zero(actual, axis=0)  # 5 % of the mean |actual| per column: 0.10125 and 5.5
    np.testing.assert_allclose(eps, [0.05 * 2.025, 0.05 * 110.0])
    # column 0: the 0.05 reading is left out (it would add 2,000 %): only |1|/4 = 25 %
    # column 1: both kept: (25 % + 50 %) / 2 (50 % if the 20.0 reading were dropped)
    np.testing.assert_allclose(mape(actual, predicted, axis=0, eps=eps), [25.0, 37.5])


def test_smape_by_hand():
    # 1/5, 2/6, 1/1, 0/10 -> mean (0.2 + 1/3 + 1 + 0) / 4, times 200
    assert smape(A, P) == pytest.approx(200 * (0.2 + 1 / 3 + 1.0) / 4)
    assert smape(np.zeros(2), np.zeros(2)) == 0.0


def test_mase_by_hand():
    history = np.array([1.0, 2.0, 4.0, 3.0, 5.0])
    assert mase_scale(history, 1) == pytest.approx((1 + 2 + 1 + 2) / 4)  # 1.5
    assert mase_scale(history, 2) == pytest.approx((3 + 1 + 1) / 3)
    assert mase(A, P, mase_scale(history, 1)) == pytest.approx(1.0 / 1.5)
    with pytest.raises(ValueError):
        mase_scale(history, 5)


def test_metrics_per_step_and_target():
    actual = np.zeros((2, 3, 2))
    predicted = np.arange(12.0).reshape(2, 3, 2)
    np.testing.assert_allclose(mae(actual, predicted, axis=0), [[3, 4], [5, 6], [7, 8]])
    np.testing.assert_allclose(mase(actual, predicted, np.array([1.0, 2.0]), axis=(0, 1)), [5.0, 3.0])
