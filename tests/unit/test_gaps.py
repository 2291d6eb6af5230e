"""Raw gaps on the cadence grid, their classification, and what the backfill network sees."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines import ForecasterError
from pipelines.gaps import (
    FILLED,
    NO_CONTEXT_AFTER,
    NO_CONTEXT_BEFORE,
    TOO_LONG,
    BackfillSpec,
    classify,
    find_gaps,
    gap_windows,
    raw_grids,
    window_of,
)
from pipelines.masking import linear_fill, network_input, synthetic_gaps

SPEC = BackfillSpec(window=12, max_fill=4, min_context=2, features=["a", "b"])


def frame_with_gaps() -> pd.DataFrame:
    ts = pd.date_range("2026-01-01", periods=10, freq="1h", tz="UTC")
    frame = pd.DataFrame({"ts": ts, "a": np.arange(10.0), "b": 10 + np.arange(10.0)})
    frame.loc[3, "a"] = np.nan
    return frame.drop(index=[5, 6]).sample(frac=1, random_state=0)  # out of order on purpose


def test_raw_grid_keeps_missing_timestamps_and_nan_cells():
    freq, grids = raw_grids(frame_with_gaps(), ["a", "b"])
    grid = grids["0"]
    assert freq == "1h" and grid.values.shape == (10, 2)
    assert np.isnan(grid.values[[3, 5, 6], 0]).all() and np.isnan(grid.values[[5, 6], 1]).all()
    assert grid.values[4].tolist() == [4.0, 14.0]
    assert (grid.row[[5, 6]] == -1).all() and (grid.row >= 0).sum() == 8


def test_gaps_per_column_and_sensor():
    frame = pd.concat([frame_with_gaps().assign(sensor="x"), frame_with_gaps().assign(sensor="y")])
    _, grids = raw_grids(frame, ["a", "b"])
    assert sorted(grids) == ["x", "y"]
    gaps = find_gaps("x", grids["x"].observed)
    assert [(g.column, g.start, g.length) for g in gaps] == [(0, 3, 1), (0, 5, 2), (1, 5, 2)]


def test_classification_by_length_and_context():
    observed = np.ones((40, 1), dtype=bool)
    observed[0:2] = False  # at the start: nothing before
    observed[10:13] = False  # fillable
    observed[20:25] = False  # 5 > max_fill
    observed[38:40] = False  # at the end: nothing after
    statuses = [classify(g, observed, SPEC, 4).status for g in find_gaps("s", observed)]
    assert statuses == [NO_CONTEXT_BEFORE, FILLED, TOO_LONG, NO_CONTEXT_AFTER]
    gap = find_gaps("s", observed)[1]
    assert classify(gap, observed, SPEC, max_fill=2).status == TOO_LONG


def test_window_is_centred_and_padded():
    values = np.arange(20.0).reshape(-1, 1)
    w = window_of(values, 10, 3, SPEC)
    assert w.shape == (12, 1) and w[SPEC.placement(3), 0] == 10.0
    assert np.isnan(window_of(values, 1, 2, SPEC)[:4, 0]).all()


def test_gap_windows_are_one_gather_of_the_hand_padded_slices():
    values = np.arange(40.0).reshape(20, 2)
    gaps = [(0, 1), (3, 4), (10, 2), (19, 1)]
    windows = gap_windows(values, gaps, SPEC)
    for w, (start, length) in zip(windows, gaps):
        lo = start - SPEC.placement(length)
        expected = np.array([values[r] if 0 <= r < len(values) else [np.nan, np.nan] for r in range(lo, lo + SPEC.window)])
        assert np.array_equal(w, expected, equal_nan=True)
        assert np.array_equal(w, window_of(values, start, length, SPEC), equal_nan=True)


@pytest.mark.parametrize("bad", [{"window": 0}, {"max_fill": 1.5}, {"features": []}, {"window": 7}])
def test_spec_validation(bad):
    with pytest.raises(ForecasterError, match="must"):
        BackfillSpec(**{"window": 12, "max_fill": 4, "min_context": 2, "features": ["a"], **bad})


@settings(max_examples=50, deadline=None)
@given(st.lists(st.booleans(), min_size=2, max_size=30))
def test_linear_fill_keeps_observed_and_stays_between_neighbours(mask):
    observed = np.array(mask).reshape(-1, 1)
    values = np.random.default_rng(len(mask)).normal(size=observed.shape)
    filled = linear_fill(np.where(observed, values, np.nan), observed)
    assert np.isfinite(filled).all()
    assert (filled[observed] == values[observed]).all()  # bit for bit
    if observed.any():
        assert filled.min() >= values[observed].min() - 1e-12 and filled.max() <= values[observed].max() + 1e-12


def test_network_input_and_synthetic_gaps():
    masks = synthetic_gaps(np.random.default_rng(0), 200, 2, SPEC)
    assert masks.shape == (200, 12, 2)
    assert (~masks).any(axis=(1, 2)).all()  # every window has a gap
    centre = SPEC.placement(1)
    assert (~masks[:, centre, :]).any(axis=1).all()  # ... centred as at fill time
    x, level = network_input(np.full((200, 12, 2), 5.0), masks)
    assert x.shape == (200, 12, 4) and x.dtype == np.float32 and level.shape == (200, 1, 2)
    assert (x[..., 2:] == masks).all() and (x[..., :2] == 0).all() and (level == 5).all()
