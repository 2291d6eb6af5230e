"""The streaming window gives exactly the batch windows, gaps included."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines import ForecasterError, RollingWindow, StaleReading, WindowRegistry, WindowSpec, regularize
from pipelines.windows import input_windows


@settings(max_examples=80, deadline=None)
@given(
    steps=st.lists(st.integers(1, 7), min_size=1, max_size=80),
    max_gap=st.integers(0, 4),
    length=st.integers(1, 6),
    seed=st.integers(0, 1000),
    missing=st.floats(0.0, 0.5),
)
def test_row_by_row_equals_batch(steps, max_gap, length, seed, missing):
    """Rows with a missing value (NaN, an empty CSV cell or a feature absent from a payload)
    are dropped by both paths alike."""
    slots = np.cumsum(steps) + 1000
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(len(slots), 2))
    values[rng.random(values.shape) < missing] = np.nan
    series = regularize(slots, values, max_gap)
    spec = WindowSpec(input_steps=length, horizon=1, features=["a", "b"], targets=["a"])
    batch = input_windows(series.values, spec, series.segment)

    window = RollingWindow(length=length, n_columns=2, step_ns=60, max_gap=max_gap)
    streamed = [w for s, v in zip(slots, values) for w in window.push(int(s) * 60, v)]
    assert len(streamed) == len(batch)
    for a, b in zip(streamed, batch):
        assert np.array_equal(a, b)  # bit for bit


def test_stale_and_bad_readings_leave_state_untouched():
    w = RollingWindow(length=2, n_columns=1, step_ns=1, max_gap=0)
    w.push(1, [1.0])
    w.push(2, [2.0])
    before = w.window()
    with pytest.raises(StaleReading, match="duplicate") as duplicate:
        w.push(2, [9.0])
    with pytest.raises(StaleReading, match="out-of-order") as late:
        w.push(1, [9.0])
    assert (duplicate.value.kind, late.value.kind) == ("duplicate", "out_of_order")
    with pytest.raises(ForecasterError, match="expected 1 values"):
        w.push(3, [1.0, 2.0])
    assert np.array_equal(w.window(), before) and w.last_slot == 2
    assert w.push(3, [3.0])[0][:, 0].tolist() == [2.0, 3.0]


def test_a_missing_value_is_a_missing_row():
    w = RollingWindow(length=2, n_columns=2, step_ns=1, max_gap=1)
    w.push(1, [1.0, 10.0])
    assert w.push(2, [float("nan"), 20.0]) == [] and w.last_slot == 1  # nothing changes
    with pytest.raises(StaleReading, match="duplicate"):
        w.push(1, [float("nan"), 1.0])  # still refused by its slot
    window = w.push(3, [3.0, 30.0])[-1]
    assert window.tolist() == [[2.0, 20.0], [3.0, 30.0]]  # slot 2 interpolated, as the batch path does


def test_state_round_trip():
    w = RollingWindow(length=3, n_columns=1, step_ns=1, max_gap=0)
    for t in range(5):
        w.push(t, [float(t)])
    copy = RollingWindow(length=3, n_columns=1, step_ns=1, max_gap=0)
    copy.restore(w.to_dict())
    assert np.array_equal(copy.window(), w.window())
    assert np.array_equal(copy.push(5, [5.0])[0], w.push(5, [5.0])[0])


def test_registry_bounds_sensors():
    reg = WindowRegistry(length=1, n_columns=1, step_ns=1, max_gap=0, max_sensors=3)
    for i in range(10):
        reg.get(str(i))
    assert len(reg) == 3 and reg.evicted == 7
