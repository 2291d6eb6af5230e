"""A fleet's series end to end: the same windows as cutting each sensor alone, none across a sensor."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.fleet import stack_series
from pipelines.windows import WindowSpec, cut, windows_by_block_label

sensor = st.lists(st.tuples(st.booleans(), st.integers(0, 9)), min_size=1, max_size=40)


@settings(max_examples=60, deadline=None)
@given(st.lists(sensor, min_size=1, max_size=4), st.integers(1, 4), st.integers(1, 3), st.integers(1, 2))
def test_fleet_windows_equal_each_sensors_windows_in_order(sensors, L, H, stride):
    spec = WindowSpec(input_steps=L, horizon=H, features=["a"], targets=["b"], stride=stride)
    parts = []
    for k, rows in enumerate(sensors):
        n = len(rows)
        segment = np.cumsum([c for c, _ in rows]).astype("int64")
        labels = np.sort(np.array([v % 3 for _, v in rows], dtype="int64"))
        values = np.stack([k * 1e4 + np.arange(n, dtype=float), -(k * 1e4 + np.arange(n, dtype=float))], axis=1)
        parts.append((values, segment, labels))
    fleet = stack_series(iter(parts), length=L + H, stride=stride)
    assert fleet.values.dtype == np.float32 and len(fleet.values) == sum(len(v) for v, _, _ in parts)
    for label in (0, 1, 2):
        expected = [windows_by_block_label(v, spec, s, lab).get(label) for v, s, lab in parts]
        expected = [xy for xy in expected if xy is not None and len(xy[0])]
        X, y = cut(fleet.values, fleet.of(label), spec)
        assert len(X) == fleet.count(label) == sum(len(x) for x, _ in expected)
        if expected:
            assert np.array_equal(X, np.concatenate([x for x, _ in expected]).astype("float32"))
            assert np.array_equal(y, np.concatenate([t for _, t in expected]).astype("float32"))
        # a window's rows all come from one sensor (sensor k's values lie in [k * 1e4, k * 1e4 + 40))
        assert all(len(set((X[i, :, 0] // 1e4).tolist())) == 1 for i in range(len(X)))
        chunks = list(fleet.chunks(label, size=3))
        assert sum(len(c) for c in chunks) == fleet.count(label) and all(len(c) <= 3 for c in chunks)


def test_an_empty_fleet_has_no_windows():
    fleet = stack_series(iter([]), length=3)
    assert fleet.values.shape == (0, 0) and fleet.count(0) == 0 and list(fleet.chunks(0)) == []
