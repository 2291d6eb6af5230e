"""Windows: shapes, alignment by name, and never across a gap, split or sensor."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines import ForecasterError, WindowSpec, make_windows, regularize
from pipelines.windows import gather, input_windows, starts_by_label, window_starts, windows_by_block_label


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


def _hand_windows(values, segment, labels, L, H, stride, fidx, tidx):
    """Window by window with Python slices: the reference the one gather must equal."""
    out = {int(lab): ([], []) for lab in np.unique(labels)}
    block_start = 0
    for s in range(len(values)):
        if s and (segment[s] != segment[s - 1] or labels[s] != labels[s - 1]):
            block_start = s
        rows = slice(s, s + L + H)
        if s + L + H > len(values) or len(set(segment[rows])) != 1 or len(set(labels[rows])) != 1:
            continue
        if (s - block_start) % stride == 0:
            out[int(labels[s])][0].append(values[s : s + L][:, fidx])
            out[int(labels[s])][1].append(values[s + L : s + L + H][:, tidx])
    return out


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.tuples(st.booleans(), st.integers(0, 9)), min_size=1, max_size=60),
    st.integers(1, 4), st.integers(1, 3), st.integers(1, 3),
)
def test_gathered_windows_equal_hand_indexed_ones_and_stay_in_their_block(rows, L, H, stride):
    n = len(rows)
    segment = np.cumsum([cut for cut, _ in rows]).astype("int64")  # a True starts a new segment
    labels = np.sort(np.array([k % 3 for _, k in rows], dtype="int64"))  # splits: chronological
    values = np.stack([np.arange(n, dtype=float), 1000 + np.arange(n, dtype=float)], axis=1)
    spec = WindowSpec(input_steps=L, horizon=H, features=["a", "b"], targets=["b"], stride=stride)
    parts = windows_by_block_label(values, spec, segment, labels)
    hand = _hand_windows(values, segment, labels, L, H, stride, [0, 1], [1])
    assert sorted(parts) == sorted(hand)
    for label, (X, y) in parts.items():
        hx, hy = hand[label]
        assert X.shape == (len(hx), L, 2) and y.shape == (len(hy), H, 1)
        assert np.array_equal(X, np.array(hx).reshape(X.shape)) and np.array_equal(y, np.array(hy).reshape(y.shape))
    for label, starts in starts_by_label(segment, labels, L + H, stride).items():
        for s in starts:  # no start lets a window cross a segment or split border
            assert set(segment[s : s + L + H]) == {segment[s]} and set(labels[s : s + L + H]) == {label}
            assert s + L + H <= n


def test_gather_is_the_hand_slice():
    values = np.arange(30.0).reshape(10, 3)
    starts = np.array([0, 4, 5])
    for length, offset in ((3, 0), (2, 3), (1, 1)):
        expected = np.stack([values[s + offset : s + offset + length] for s in starts])
        assert np.array_equal(gather(values, starts, length, offset), expected)
    assert gather(values, np.zeros(0, dtype="int64"), 4).shape == (0, 4, 3)
