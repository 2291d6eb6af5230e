"""The baseline combination's choice (`forecaster.combine`, numpy only) and its option."""

from __future__ import annotations

import numpy as np

from forecaster.combine import GRID, Baselines, choose, smoothed
from forecaster.params import ModelParams


def test_bundles_without_the_option_load_as_the_network_alone():
    assert ModelParams.from_dict({"cell": "gru"}).combine == "none"
    assert ModelParams.from_dict({"cell": "gru", "combine": "baselines"}).combine == "baselines"


def test_smoothing_sums_neighbouring_steps_per_target():
    errors = np.arange(12.0).reshape(1, 6, 2).reshape(1, 12)  # 6 steps x 2 targets
    steps = errors.reshape(6, 2)
    np.testing.assert_array_equal(smoothed(errors, 2, 0.0), errors)
    whole = smoothed(errors, 2, 1.0).reshape(6, 2)
    np.testing.assert_array_equal(whole, np.tile(steps.sum(axis=0), (6, 1)))
    near = smoothed(errors, 2, 1 / 6).reshape(6, 2)  # one step on each side
    np.testing.assert_array_equal(near[0], steps[:2].sum(axis=0))
    np.testing.assert_array_equal(near[3], steps[2:5].sum(axis=0))


def test_the_weights_are_those_of_the_lowest_error_and_ties_keep_the_network():
    base = Baselines(["a", "b"], kernels=np.stack([np.eye(2), 2 * np.eye(2)]), biases=np.ones((2, 2)))
    errors = np.ones((len(GRID), 2))
    errors[3, 0] = 0.5  # output 0: weight GRID[3] best; output 1: all equal -> the network alone
    scale, kernel, bias, weight = choose(np.array([1, 0]), errors, base)
    assert weight.tolist() == [GRID[3], 0.0]
    np.testing.assert_allclose(scale, [1 - GRID[3], 1.0])
    np.testing.assert_allclose(kernel, [[2 * GRID[3], 0.0], [0.0, 0.0]])
    np.testing.assert_allclose(bias, [GRID[3], 0.0])
