"""Regularization: cadence grid, interpolation of short gaps, segments at long gaps."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipelines import DataError, prepare, regularize


def test_short_gap_is_interpolated_linearly():
    s = regularize(np.array([0, 1, 4]), np.array([[0.0, 10.0], [1.0, 10.0], [4.0, 40.0]]), max_gap=2)
    assert s.slots.tolist() == [0, 1, 2, 3, 4]
    assert s.values[:, 0].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert s.values[:, 1].tolist() == [10.0, 10.0, 20.0, 30.0, 40.0]
    assert s.interpolated.tolist() == [False, False, True, True, False]
    assert s.segment.tolist() == [0] * 5
    assert s.report.interpolated_slots == 2 and s.report.interpolated_gaps == 1


def test_long_gap_cuts_segments_and_is_reported():
    s = regularize(np.array([0, 1, 5, 6]), np.arange(4.0).reshape(-1, 1), max_gap=2)
    assert s.slots.tolist() == [0, 1, 5, 6]
    assert s.segment.tolist() == [0, 0, 1, 1]
    assert s.report.cut_gaps == [(2, 3)] and s.report.segments == 2
    assert s.segment_bounds() == [(0, 2), (2, 4)]


def test_incomplete_rows_count_as_missing():
    values = np.array([[0.0, 0.0], [np.nan, 5.0], [2.0, 2.0]])
    s = regularize(np.array([0, 1, 2]), values, max_gap=1)
    assert s.values.tolist() == [[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]
    assert s.report.incomplete_rows == 1


def test_leading_and_trailing_missing_rows_are_dropped():
    values = np.array([[np.nan], [1.0], [2.0], [np.nan]])
    s = regularize(np.array([0, 1, 2, 3]), values, max_gap=5)
    assert s.slots.tolist() == [1, 2]


def test_prepare_infers_cadence_and_sorts_by_time():
    ts = pd.to_datetime(["2026-01-01 02:00", "2026-01-01 00:00", "2026-01-01 01:00"], utc=True)
    frame = pd.DataFrame({"ts": ts, "v": [2.0, 0.0, 1.0]})
    data = prepare(frame, ["v"])
    assert data.freq == "1h"
    assert data.series["0"].values[:, 0].tolist() == [0.0, 1.0, 2.0]


def test_two_readings_in_one_slot_is_an_error():
    ts = pd.to_datetime(["2026-01-01 00:00", "2026-01-01 00:20", "2026-01-01 01:00"], utc=True)
    frame = pd.DataFrame({"ts": ts, "v": [0.0, 1.0, 2.0]})
    with pytest.raises(DataError, match="two readings in one 1h slot"):
        prepare(frame, ["v"], freq="1h")


def test_readings_off_the_grid_are_floored_to_their_slot():
    ts = pd.to_datetime(["2026-01-01 00:00:07", "2026-01-01 01:00:02"], utc=True)
    data = prepare(pd.DataFrame({"ts": ts, "v": [0.0, 1.0]}), ["v"], freq="1h")
    assert [str(t) for t in data.times("0")] == ["2026-01-01 00:00:00+00:00", "2026-01-01 01:00:00+00:00"]


def test_cadence_is_inferred_from_time_order_not_file_order():
    ts = pd.to_datetime(["2026-01-01 00:00", "2026-01-01 00:30", "2026-01-01 00:15", "2026-01-01 00:45"], utc=True)
    assert prepare(pd.DataFrame({"ts": ts, "v": [0.0, 2.0, 1.0, 3.0]}), ["v"]).freq == "15min"
