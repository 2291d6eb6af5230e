"""`windows_at` (windows rebuilt from readings held by slot) equals the stream window: the same
windows, bit for bit, as `RollingWindow` fed the same readings in order."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.slotted import windows_at
from pipelines.stream import RollingWindow


@settings(max_examples=200, deadline=None)
@given(gaps=st.lists(st.integers(0, 4), min_size=1, max_size=40), length=st.integers(1, 6),
       max_gap=st.integers(0, 3), cut=st.floats(0, 1), seed=st.integers(0, 2**16))
def test_windows_at_equals_the_rolling_window(gaps, length, max_gap, cut, seed):
    slots = np.cumsum(np.array(gaps) + 1)  # held slots with runs of missing ones between
    rows = np.random.default_rng(seed).normal(size=(len(slots), 2))
    window, want = RollingWindow(length=length, n_columns=2, step_ns=1, max_gap=max_gap), {}
    for slot, row in zip(slots.tolist(), rows):
        done = window.push(slot, row)
        if done:
            want[slot] = done[-1]
    lo = int(slots[int(cut * (len(slots) - 1))])
    got = windows_at(slots, rows, lo, int(slots[-1]), length=length, max_gap=max_gap)
    assert [s for s, _ in got] == [s for s in want if s >= lo]
    for s, w in got:
        np.testing.assert_array_equal(w, want[s])
