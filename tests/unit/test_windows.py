"""Windows: shapes, alignment by name, and never across a gap, split or sensor."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines import ForecasterError, WindowSpec, make_windows, regularize
from pipelines.windows import input_windows, window_starts, windows_by_block_label


def test_targets_are_aligned_after_the_inputs():
    spec = WindowSpec(input_steps=4, horizon=2, features=["a", "b"], targets=["b"])
    values = np.stack([np.arange(10.0), 100 + np.arange(10.0)], axis=1)
    X, y = make_windows(values, spec)
    assert X.shape == (5, 4, 2) and y.shape == (5, 2, 1)
    for i in range(5):
        assert X[i, :, 0].tolist() == list(range(i, i + 4))
        assert y[i, :, 0].tolist() == [100 + i + 4, 100 + i + 5]


def test_target_that_is_not_a_feature():
    spec = WindowSpec(input_steps=2, horizon=1, features=["a"], targets=["t"])
    assert spec.columns == ("a", "t")
    X, y = make_windows(np.array([[0.0, 10], [1, 11], [2, 12]]), spec)
    assert X[:, :, 0].tolist() == [[0.0, 1.0]] and y[:, :, 0].tolist() == [[12.0]]


def test_stride():
    spec = WindowSpec(input_steps=2, horizon=1, features=["a"], targets=["a"], stride=2)
    X, _ = make_windows(np.arange(7.0).reshape(-1, 1), spec)
    assert X[:, 0, 0].tolist() == [0.0, 2.0, 4.0]


@pytest.mark.parametrize("bad", [{"input_steps": 0}, {"horizon": -1}, {"stride": 1.5}, {"features": "a"}, {"targets": []}])
def test_spec_validation(bad):
    args = {"input_steps": 2, "horizon": 1, "features": ["a"], "targets": ["a"], **bad}
    with pytest.raises(ForecasterError, match="must be"):
        WindowSpec(**args)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 3), min_size=1, max_size=60), st.integers(1, 6))
def test_no_window_crosses_a_block(blocks, length):
    blocks = np.cumsum(np.array(blocks) > 2)  # random block boundaries
    starts = window_starts(blocks, length)
    for s in starts:
        assert len(set(blocks[s : s + length])) == 1
    # and every position that fits inside a block is used
    expected = [s for s in range(len(blocks) - length + 1) if len(set(blocks[s : s + length])) == 1]
    assert starts.tolist() == expected


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 6), min_size=2, max_size=50), st.integers(0, 3))
def test_no_window_crosses_a_gap(steps, max_gap):
    slots = np.cumsum(steps)
    series = regularize(slots, slots.astype(float).reshape(-1, 1), max_gap)
    spec = WindowSpec(input_steps=3, horizon=2, features=["v"], targets=["v"])
    X, y = make_windows(series.values, spec, series.segment)
    full = np.concatenate([X[:, :, 0], y[:, :, 0]], axis=1)
    # values are the slot numbers, so a window that spans consecutive slots increases by one
    assert np.all(np.diff(full, axis=1) == 1) if len(full) else True


def test_windows_by_split_never_mix_splits():
    values = np.arange(20.0).reshape(-1, 1)
    spec = WindowSpec(input_steps=3, horizon=1, features=["v"], targets=["v"])
    labels = np.array([0] * 10 + [1] * 5 + [2] * 5)
    parts = windows_by_block_label(values, spec, np.zeros(20, int), labels)
    assert len(parts[0][0]) == 7 and len(parts[1][0]) == 2 and len(parts[2][0]) == 2
    assert parts[1][0][:, 0, 0].tolist() == [10.0, 11.0]


def test_input_windows_are_the_batch_inputs_plus_the_tail():
    spec = WindowSpec(input_steps=3, horizon=2, features=["v"], targets=["v"])
    values = np.arange(10.0).reshape(-1, 1)
    X, _ = make_windows(values, spec)
    inputs = input_windows(values, spec)
    assert np.array_equal(inputs[: len(X)], X) and len(inputs) == len(X) + spec.horizon
