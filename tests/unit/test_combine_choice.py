"""The baseline combination's choice (`forecaster.combine`, numpy only) and its option."""

from __future__ import annotations

import numpy as np

from forecaster.combine import GRID, Baselines, choose, shrunk, smoothed, stretches
from forecaster.params import ModelParams
from pipelines.fleet import FleetSeries
from pipelines.split import VALIDATION
from pipelines.windows import WindowSpec


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


def test_the_stretches_are_the_rows_the_validation_windows_cover_over_their_span():
    spec = WindowSpec(input_steps=4, horizon=2, features=["a"], targets=["a"])  # span 6
    one_run = FleetSeries(np.zeros((100, 1), "float32"), {VALIDATION: np.arange(10, 40)}, length=6)
    assert stretches(spec, one_run) == (30 + 5) / 6
    two_sensors = FleetSeries(np.zeros((200, 1), "float32"), {VALIDATION: np.r_[np.arange(10, 40), np.arange(110, 140)]},
                              length=6)
    assert stretches(spec, two_sensors) == 2 * (30 + 5) / 6
    strided = FleetSeries(np.zeros((100, 1), "float32"), {VALIDATION: np.arange(10, 40, 3)}, length=6)
    assert stretches(spec, strided) == (27 + 6) / 6  # 10 starts 3 apart: rows 10..42
    assert stretches(spec, FleetSeries(np.zeros((9, 1), "float32"), {}, length=6)) == 0.0


def test_few_stretches_move_the_weight_toward_the_baseline_and_many_barely():
    w = np.array([0.0, 0.2, 1.0])
    np.testing.assert_allclose(shrunk(w, 2.0, 2.0), [0.5, 0.6, 1.0])  # halfway to the baseline alone
    np.testing.assert_allclose(shrunk(w, 100.0, 2.0), [0.0, 0.2, 1.0])  # 2 % of the way: the grid keeps them
    np.testing.assert_array_equal(shrunk(w, 2.0, 0.0), w)
    np.testing.assert_array_equal(shrunk(w, np.inf, 2.0), w)  # choose()'s default: unlimited evidence
    base = Baselines(["a"], kernels=np.eye(2)[None], biases=np.zeros((1, 2)))
    errors = np.ones((len(GRID), 2))
    errors[2] = 0.5  # the lowest validation error at GRID[2] = 0.2 for both outputs
    assert choose(np.zeros(2, int), errors, base)[3].tolist() == [0.2, 0.2]
    assert choose(np.zeros(2, int), errors, base, evidence=4.0, shrink=4.0)[3].tolist() == [0.6, 0.6]
