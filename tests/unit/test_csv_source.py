"""Reading sensor CSVs: formats, and a precise error for each kind of bad input."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import DATA, write_csv

from pipelines import DataError, read_csv


def test_reads_wide_ett_with_line_numbers():
    frame = read_csv(DATA / "ETTh1.csv")
    assert frame.attrs["time_col"] == "date" and frame.attrs["sensor_col"] is None
    assert len(frame) == 17420 and frame.index[0] == 2
    assert str(frame["date"].dtype) == "datetime64[ns, UTC]"
    assert frame["OT"].iloc[0] == pytest.approx(30.5310001373291)


def test_reads_long_file_with_sensor_column():
    frame = read_csv(DATA / "ett_two_transformers.csv")
    assert frame.attrs["sensor_col"] == "sensor"
    assert sorted(frame["sensor"].unique()) == ["etth1", "etth2"]


def test_epoch_seconds_and_empty_cells(tmp_path):
    path = write_csv(tmp_path / "e.csv", """
        ts,v
        1700000000,1.5
        1700003600,
        1700007200,NaN
    """)
    frame = read_csv(path)
    assert str(frame["ts"].iloc[1]) == "2023-11-14 23:13:20+00:00"
    assert frame["v"].isna().tolist() == [False, True, True]


@pytest.mark.parametrize(
    "text, kwargs, expected",
    [
        ("ts,v\n2026-01-01T00:00:00Z,1\n2026-01-01T01:00:00Z,abc\n", {}, "line 3, column 'v': not a number: 'abc'"),
        ("ts,v\n2026-01-01T00:00:00Z,1\nyesterday,2\n", {}, "line 3, column 'ts': cannot parse time 'yesterday'"),
        ("ts,v\n2026-01-01T00:00:00Z,1\n2026-01-01T00:00:00Z,2\n", {}, "duplicate timestamp 2026-01-01 00:00:00+00:00 on lines 2 and 3"),
        ("ts,v\n2026-01-01T00:00:00Z,1\n", {"columns": ["v", "w"]}, "line 1: missing column(s) ['w']"),
        ("ts,v\n2026-01-01T00:00:00Z,1\n", {"sensor_col": "station"}, "no column 'station' (--sensor-col)"),
        ("ts,v\n", {}, "no data rows after the header"),
        ("", {}, "empty file: no header row"),
        ("ts,v\n2026-01-01T00:00:00Z,1\n2026-01-01T01:00:00Z,2,3\n", {}, "malformed CSV"),
        ("ts,v\n2026-01-01T00:00:00Z,inf\n", {}, "line 2, column 'v': infinite value"),
        ("sensor,ts,v\na,2026-01-01T00:00:00Z,1\n,2026-01-01T00:00:00Z,1\n", {}, "line 3, column 'sensor': empty sensor id"),
    ],
)
def test_bad_input_names_file_line_and_column(tmp_path, text, kwargs, expected):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(DataError) as info:
        read_csv(path, **kwargs)
    assert str(info.value).startswith(str(path))
    assert expected in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_csv(tmp_path / "nope.csv")


def test_same_time_for_two_sensors_is_fine(tmp_path):
    path = write_csv(tmp_path / "two.csv", """
        sensor,ts,v
        a,2026-01-01T00:00:00Z,1
        b,2026-01-01T00:00:00Z,2
    """)
    assert np.allclose(read_csv(path)["v"], [1, 2])


@pytest.mark.parametrize("header", ["date,ts,v", "v,timestamp", "sensor,time,v", "datetime,sensor,v", "when,v"])
def test_file_and_frame_find_the_same_time_and_sensor_columns(tmp_path, header):
    """One rule (`pipelines.columns`): a header and a frame with those columns agree; only a
    file with no known time name falls back to its first column."""
    from pipelines.columns import detect_columns

    names = header.split(",")
    cells = {"sensor": "a", "v": "1"}
    path = tmp_path / "cols.csv"
    path.write_text(header + "\n" + ",".join(cells.get(n, "2026-01-01T00:00:00Z") for n in names) + "\n")
    frame = read_csv(path, columns=["v"])  # a second time-like column is not a value column
    plain = frame.copy()
    plain.attrs = {}
    if header == "when,v":
        assert frame.attrs["time_col"] == "when"
        with pytest.raises(DataError, match="no time column"):
            detect_columns(plain, None, None)
    else:
        assert (frame.attrs["time_col"], frame.attrs["sensor_col"]) == detect_columns(plain, None, None)
