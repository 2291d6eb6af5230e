"""Reading sensor CSVs: formats, and a precise error for each kind of bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
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


# Dialects (issue 19): files written here in each dialect, read by detection alone.

AIR_QUALITY = """\
Date;Time;CO(GT);T;RH
10/03/2004;18.00.00;2,6;13,6;48,9
10/03/2004;19.00.00;-200;13,3;47,7
10/03/2004;20.00.00;2,2;-200,0;54,0
13/03/2004;21.00.00;2,2;11,0;60,0
"""


def test_semicolon_decimal_comma_two_time_columns_day_first_and_a_missing_code(tmp_path):
    path = tmp_path / "air.csv"
    path.write_text(AIR_QUALITY)
    frame = read_csv(path, time_col="Date,Time", missing=["-200"])
    assert frame.attrs["time_col"] == "Date,Time" and list(frame.columns) == ["Date,Time", "CO(GT)", "T", "RH"]
    assert (frame.attrs["sep"], frame.attrs["decimal"]) == (";", ",")
    assert [str(t) for t in frame["Date,Time"]][::3] == ["2004-03-10 18:00:00+00:00", "2004-03-13 21:00:00+00:00"]
    assert frame["CO(GT)"].tolist()[0] == 2.6 and np.isnan(frame["CO(GT)"].iloc[1])
    assert np.isnan(frame["T"].iloc[2])  # -200,0 is the code -200 compared as a number
    assert (frame.attrs["missing_cells"], frame.attrs["coded_cells"]) == (2, 2)
    same = read_csv(path, time_col=["Date", "Time"], sep=";", decimal=",", missing=[-200.0], dayfirst=True)
    assert same.equals(frame)


def test_tab_separated(tmp_path):
    path = write_csv(tmp_path / "t.tsv", "ts\tsensor\tv\n2026-01-01T00:00:00Z\ta\t1.5\n2026-01-01T01:00:00Z\ta\t\n")
    frame = read_csv(path)
    assert frame.attrs["sep"] == "\t" and frame.attrs["sensor_col"] == "sensor"
    assert frame["v"].iloc[0] == 1.5 and frame.attrs["missing_cells"] == 1
    assert read_csv(path, sep="tab").equals(frame)


def test_epoch_milliseconds_recognised_by_magnitude(tmp_path):
    path = write_csv(tmp_path / "ms.csv", "ts|v\n1764684000000|1\n1764687600000|2\n")
    frame = read_csv(path)
    assert frame.attrs["sep"] == "|"
    assert [str(t) for t in frame["ts"]] == ["2025-12-02 14:00:00+00:00", "2025-12-02 15:00:00+00:00"]


def test_time_format_and_month_first(tmp_path):
    path = write_csv(tmp_path / "f.csv", "when,v\n03/04/2026 5h,1\n")
    assert str(read_csv(path, time_format="%m/%d/%Y %Hh")["when"].iloc[0]) == "2026-03-04 05:00:00+00:00"
    path = write_csv(tmp_path / "m.csv", "date,v\n03/04/2026,1\n03/05/2026,1\n")
    with pytest.raises(DataError, match="pass --dayfirst or --monthfirst"):
        read_csv(path)
    assert str(read_csv(path, dayfirst=False)["date"].iloc[1]) == "2026-03-05 00:00:00+00:00"


@pytest.mark.parametrize(
    "text, kwargs, expected",
    [
        ("ts v\n1 2\n", {}, "line 1: only one column found (tried , ; tab |): 'ts v'; name the separator with --sep"),
        ("ts;v\n1;2\n", {"sep": ","}, "only one column found (separator ',' (--sep)): 'ts;v'"),
        ("Date;Time;v\n1;2;3\n", {"time_col": "Date,Tim"}, "line 1: no column 'Tim' (--time-col Date,Tim)"),
        ("Date;Time;v\n13/03/2004;18.00.00;3\n", {}, "line 2, column 'Time': not a number: '18.00.00'; if it is "
         "the time of day, join it to the date with --time-col Date,Time"),
    ],
)
def test_dialect_errors_name_the_fix(tmp_path, text, kwargs, expected):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(DataError) as info:
        read_csv(path, **kwargs)
    assert expected in str(info.value)


@pytest.mark.parametrize("kwargs, expected", [
    ({"sep": ":"}, "`sep` must be one of ',', ';', 'tab', '|'. Received: sep=':'"),
    ({"decimal": ","}, "a decimal comma needs another separator"),
    ({"missing": ["n/a"]}, "a missing-value code must be a number"),
    ({"aggregate": "median"}, "`aggregate` must be one of"),
])
def test_bad_dialect_keywords(tmp_path, kwargs, expected):
    from pipelines import ForecasterError

    path = write_csv(tmp_path / "ok.csv", "ts,v\n2026-01-01T00:00:00Z,1\n")
    with pytest.raises(ForecasterError, match=expected.replace("(", r"\(").replace(")", r"\)").replace("|", r"\|")):
        read_csv(path, **kwargs)


# Several readings in one slot: refused by default (naming --aggregate), combined on request.

def test_several_readings_per_slot_refused_naming_the_option_or_aggregated(tmp_path):
    from pipelines.readings import sensor_readings

    path = write_csv(tmp_path / "s.csv", """
        sensor,ts,v
        a,2026-01-01T00:10:00Z,1
        a,2026-01-01T00:40:00Z,3
        a,2026-01-01T00:40:00Z,
        a,2026-01-01T01:20:00Z,10
        b,2026-01-01T00:05:00Z,7
    """)
    with pytest.raises(DataError, match=r"--aggregate mean\|last"):
        read_csv(path)
    frame = read_csv(path, aggregate="mean")
    with pytest.raises(DataError, match=r"sensor 'a': two readings in one 1h slot .* --aggregate mean\|last"):
        sensor_readings(frame, ["v"], freq="1h", aggregate="error")
    _, by_sensor = sensor_readings(frame, ["v"], freq="1h")
    assert by_sensor["a"].values[:, 0].tolist() == [2.0, 10.0]  # the mean of 1 and 3 (the empty cell skipped)
    assert by_sensor["a"].slots.tolist() == [by_sensor["a"].slots[0], by_sensor["a"].slots[0] + 1]
    assert by_sensor["b"].values[:, 0].tolist() == [7.0]
    expected = {"last": 3.0, "first": 1.0, "min": 1.0, "max": 3.0, "sum": 4.0}
    for how, value in expected.items():
        assert sensor_readings(frame, ["v"], freq="1h", aggregate=how)[1]["a"].values[0, 0] == value


def test_cli_aggregate_choices_are_the_pipelines_rules():
    """`--aggregate` (declared once in `forecaster.cli.util`) offers exactly `readings.AGGREGATES`."""
    from forecaster.cli.util import csv_aggregate
    from pipelines.readings import AGGREGATES

    option = csv_aggregate(lambda: None).__click_params__[0]
    assert tuple(option.type.choices) == AGGREGATES and option.default == "error"


def test_aggregated_file_prepares_like_the_file_of_means(tmp_path):
    """What the model sees (`prepare`: slots, interpolation) from two readings per slot with
    ``aggregate="mean"`` is what it sees from one reading of their mean."""
    from pipelines.series import prepare

    times = pd.date_range("2026-01-01", periods=48, freq="1h", tz="UTC")
    means = pd.DataFrame({"ts": times, "v": np.sin(np.arange(48) / 4.0)})
    means.loc[[10, 11], "v"] = np.nan  # a short gap, interpolated the same way
    pairs = pd.concat([means.assign(ts=times + pd.Timedelta(minutes=5), v=means.v - 0.5),
                       means.assign(ts=times + pd.Timedelta(minutes=35), v=means.v + 0.5)]).sort_values("ts")
    means.to_csv(tmp_path / "means.csv", index=False)
    pairs.to_csv(tmp_path / "pairs.csv", index=False)
    a = prepare(read_csv(tmp_path / "means.csv"), ["v"], freq="1h", max_gap=3).series["0"]
    b = prepare(read_csv(tmp_path / "pairs.csv", aggregate="mean"), ["v"], freq="1h", max_gap=3).series["0"]
    np.testing.assert_array_equal(a.slots, b.slots)
    np.testing.assert_allclose(a.values, b.values, rtol=0, atol=1e-12)
