"""The baseline combination's choice (`forecaster.combine`, numpy only) and its option."""

from __future__ import annotations

import numpy as np

from forecaster.combine import GRID, Baselines, choose, one_standard_error, smoothed
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


def _blocks(means: np.ndarray, noise: float, blocks: int = 10, seed: int = 0) -> np.ndarray:
    """``(blocks, G, outputs)`` errors: ``means (G, outputs)`` plus block noise shared by every weight
    (as a hard stretch is hard for every blend) and a small part of its own."""
    rng = np.random.default_rng(seed)
    shared = rng.normal(size=(blocks, 1, means.shape[1]))
    own = rng.normal(size=(blocks, *means.shape))
    return means[None] + noise * (shared + 0.5 * own)


def test_a_clearly_better_weight_is_kept_and_an_unclear_one_gives_way_to_the_baseline():
    means = np.tile(np.abs(GRID - 0.2)[:, None] * 0.1 + 1.0, (1, 2))  # lowest at GRID[2] = 0.2, 1.0 costs +8 %
    clear = one_standard_error(_blocks(means, noise=0.001))
    assert GRID[clear].tolist() == [0.2, 0.2]
    unclear = np.repeat(means[None], 10, axis=0)
    unclear[::2, -1] -= 0.5  # the baseline alone: better in half the blocks, worse in the others
    unclear[1::2, -1] += 0.5
    assert GRID[one_standard_error(unclear)].tolist() == [1.0, 1.0]


def test_the_chosen_weight_is_the_largest_within_one_standard_error_of_the_lowest():
    errors = _blocks(np.tile(np.abs(GRID - 0.3)[:, None] * 0.02 + 1.0, (1, 3)), noise=0.05, seed=4)
    chosen = one_standard_error(errors)
    for o, g in enumerate(chosen):  # brute force, weight by weight
        diffs = errors[:, :, o] - errors[:, np.argmin(errors[:, :, o].mean(axis=0)), o][:, None]
        within = [d.mean() <= d.std(ddof=1) / np.sqrt(len(d)) for d in diffs.T]
        assert within[g] and not any(within[g + 1:])


def test_one_block_has_no_error_to_judge_by_and_keeps_the_baseline_alone():
    errors = np.ones((1, len(GRID), 2))
    errors[0, 2] = 0.1
    assert GRID[one_standard_error(errors)].tolist() == [1.0, 1.0]


def test_the_weights_become_the_blend_and_ties_take_the_baseline():
    base = Baselines(["a", "b"], kernels=np.stack([np.eye(2), 2 * np.eye(2)]), biases=np.ones((2, 2)))
    errors = np.ones((4, len(GRID), 2)) + np.arange(4)[:, None, None]  # every block equal across weights
    errors[:, 3, 0] -= 0.5  # output 0: GRID[3] better by 0.5 in every block (no spread): kept
    scale, kernel, bias, weight = choose(np.array([1, 0]), errors, base)
    assert weight.tolist() == [GRID[3], 1.0]  # output 1: all equal, the simpler model
    np.testing.assert_allclose(scale, [1 - GRID[3], 0.0])
    np.testing.assert_allclose(kernel, [[2 * GRID[3], 0.0], [0.0, 1.0]])
    np.testing.assert_allclose(bias, [GRID[3], 1.0])
