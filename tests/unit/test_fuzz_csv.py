"""Fuzzing `read_csv` (what every command reads a user's CSV with) on real files: whatever the
separator, decimal mark, quoting, missing cells, times or widths, it returns a valid frame or
raises a `ForecasterError` naming the file (and the line and column where one applies)."""

from __future__ import annotations

import ast
import datetime as dt
import re
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pipelines.csv_source import read_csv
from pipelines.errors import DataError, ForecasterError
from pipelines.timeutil import TIME_MAX, TIME_MIN

SEPARATORS = [",", ";", "\t", "|"]
YEARS = st.sampled_from([1, 1677, 1678, 1970, 2026, 2261, 2262, 2263, 3000, 9999]) | st.integers(1, 9999)
DATES = st.builds(lambda y, m, d, h: dt.datetime(y, m, d, h), st.integers(1990, 2030) | YEARS, st.integers(1, 12),
                  st.integers(1, 28), st.integers(0, 23))
TIME_KINDS = {  # how a file writes its times; a cell may still be anything (`ODD_TIMES`)
    "iso": lambda d: f"{d.year:04d}-{d.month:02d}-{d.day:02d}T{d.hour:02d}:00:00",
    "iso_z": lambda d: f"{d.year:04d}-{d.month:02d}-{d.day:02d} {d.hour:02d}:00Z",
    "dmy": lambda d: f"{d.day:02d}/{d.month:02d}/{d.year:04d} {d.hour:02d}:00",
    "dotted": lambda d: f"{d.day:02d}.{d.month:02d}.{d.year:04d} {d.hour:02d}.00.00",
    "epoch_s": lambda d: str(int((d - dt.datetime(1970, 1, 1)).total_seconds())),
    "epoch_ms": lambda d: str(int((d - dt.datetime(1970, 1, 1)).total_seconds()) * 1000),
}
ODD_TIMES = st.one_of(
    st.integers(-(10**20), 10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", "NaN", "yesterday", "2026-13-45", "0000-00-00", "10000-01-01", "1e400", "-0", "12/13/14",
                     "3000-01-01", "0001-01-01T00:00:00Z", "99999999999", "-99999999999"]),
    st.text(max_size=12),
)
ODD_VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**25), 10**25).map(str),
    st.sampled_from(["", "NA", "null", "nan", "inf", "-200", "-200,0", "1,5", "1.5", "1 000", '"', "x"]),
    st.text(max_size=8),
)
NAMES = ["OT", "HUFL", "T", "RH", "CO(GT)", "temp °C", "a b", "x;y", 'q"r', "sensor"]


def field(text: str, sep: str, quote: bool) -> str:
    """One CSV field, quoted when asked or when it must be."""
    if quote or any(c in text for c in (sep, '"', "\n", "\r")):
        return '"' + text.replace('"', '""') + '"'
    return text


def value(draw, decimal: str) -> str:
    """A cell: mostly a number in the file's decimal mark, sometimes anything."""
    if draw(st.integers(0, 9)) == 0:
        return draw(ODD_VALUES)
    number = f"{draw(st.floats(-1e6, 1e6)):.{draw(st.integers(0, 4))}f}"
    return number.replace(".", decimal)


@st.composite
def csv_files(draw) -> tuple[str, dict]:
    """A CSV text (mostly well formed, sometimes not) and the `read_csv` keywords to read it with."""
    sep = draw(st.sampled_from(SEPARATORS))
    decimal = "," if sep != "," and draw(st.booleans()) else "."
    width = draw(st.integers(1, 5))
    names = draw(st.lists(st.sampled_from(NAMES), min_size=width, max_size=width, unique=True))
    if draw(st.integers(0, 9)) == 0:
        names[-1] = draw(st.text(max_size=4))  # empty, a duplicate, a separator, anything
    header = [draw(st.sampled_from(["date", "ts", "Date", "time"])), *names]
    kind = draw(st.sampled_from(sorted(TIME_KINDS)))
    rows = []
    for _ in range(draw(st.integers(0, 8))):
        when = draw(ODD_TIMES) if draw(st.integers(0, 9)) == 0 else TIME_KINDS[kind](draw(DATES))
        cells = [when] + [value(draw, decimal) for _ in range(width)]
        if draw(st.integers(0, 14)) == 0:  # a row with a random number of fields
            cells = cells[: draw(st.integers(0, len(cells) + 2))] + [value(draw, decimal)] * draw(st.integers(0, 2))
        rows.append(cells)
    quote = draw(st.booleans())
    lines = [sep.join(field(c, sep, quote and draw(st.booleans())) for c in row) for row in [header, *rows]]
    if lines[1:] and draw(st.integers(0, 9)) == 0:
        lines.insert(draw(st.integers(1, len(lines))), "")  # a blank line
    text = "\n".join(lines) + draw(st.sampled_from(["\n", "", "\n\n"]))
    keywords = draw(st.fixed_dictionaries({}, optional={
        "sep": st.sampled_from([{",": ",", ";": ";", "\t": "tab", "|": "|"}[sep], ",", ";", "tab", "|"]),
        "decimal": st.sampled_from([decimal, ".", ","]), "dayfirst": st.booleans(),
        "time_format": st.sampled_from(["%Y-%m-%d %H:%M", "%d/%m/%Y %H:%M", "%Q"]),
        "missing": st.sampled_from([[-200], ["-200,0"]]), "aggregate": st.sampled_from(["mean", "last"]),
    }))
    if width >= 2 and draw(st.integers(0, 4)) == 0:
        keywords["time_col"] = f"{header[0]},{header[1]}"
    return text, keywords


def check_frame(frame, keywords: dict) -> None:
    """What a returned frame promises: UTC nanosecond times in range, float values, line numbers."""
    time_col = frame.attrs["time_col"]
    assert str(frame[time_col].dtype) == "datetime64[ns, UTC]"
    times = frame[time_col]
    assert times.notna().all() and (times >= TIME_MIN).all() and (times <= TIME_MAX).all()
    values = [c for c in frame.columns if c not in (time_col, frame.attrs["sensor_col"])]
    assert values and all(frame[c].dtype == np.float64 for c in values)
    assert not np.isinf(frame[values].to_numpy()).any()
    assert int(frame.index.min()) >= 2


def check_error(exc: ForecasterError, path: Path, text: str) -> None:
    """A refusal names the file; a bad cell also its line and column, and (in a file without
    quotes) that line holds the cell the message shows."""
    message = str(exc)
    assert "\n" not in message and len(message) < 2000, message
    if isinstance(exc, DataError):
        assert exc.source == str(path) and message.startswith(str(path)), message
        if any(k in exc.reason for k in ("cannot parse time", "outside the supported range", "not a number",
                                         "infinite value", "empty sensor id")):
            assert exc.line is not None and exc.line >= 2 and exc.column is not None, message
            lines = text.split("\n")
            assert exc.line <= len(lines), message
            shown = re.match(r"(?:cannot parse time|time|not a number:) ('(?:[^'\\]|\\.)*')", exc.reason)
            cell = ast.literal_eval(shown.group(1)) if shown else ""
            if '"' not in text and "," not in exc.column and cell.strip():
                assert cell.strip() in lines[exc.line - 1], (message, lines[exc.line - 1])
    else:  # an option that cannot be used (`sep`, `decimal`), said without a file
        assert "`" in message or str(path) in message, message


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=csv_files())
def test_any_csv_gives_a_valid_frame_or_a_located_error(case):
    text, keywords = case
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.csv"
        path.write_text(text, encoding="utf-8")
        try:
            frame = read_csv(path, **keywords)
        except ForecasterError as exc:
            check_error(exc, path, text)
        else:
            check_frame(frame, keywords)


@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=200))
def test_any_bytes_give_a_frame_or_a_located_error(data):
    assume(data.strip())
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bytes.csv"
        path.write_bytes(b"ts,v\n" + data)
        try:
            check_frame(read_csv(path), {})
        except ForecasterError as exc:
            check_error(exc, path, (b"ts,v\n" + data).decode("utf-8", "replace"))


# Regressions and the out-of-range contract, one plain case each.


@pytest.mark.parametrize("text, keywords, where, shown", [
    ("date,OT\n2020-01-01,1\n3000-01-01,2\n", {}, "line 3, column 'date'", "'3000-01-01'"),
    ("date,OT\n0001-01-01,1\n2020-01-01,2\n", {}, "line 2, column 'date'", "'0001-01-01'"),
    ("date,OT\n2020-01-01,1\n2262-04-12,2\n", {}, "line 3, column 'date'", "'2262-04-12'"),
    ("date,OT\n1677-09-21 00:00,1\n", {}, "line 2, column 'date'", "'1677-09-21 00:00'"),
    ("date,OT\n13/01/3000,1\n14/01/2020,2\n", {}, "line 2, column 'date'", "'13/01/3000'"),
    ("date,OT\n01/02/0001,1\n", {"dayfirst": True}, "line 2, column 'date'", "'01/02/0001'"),
    ("date,OT\n2020/01/01,1\n3000/01/01,2\n", {"time_format": "%Y/%m/%d"}, "line 3, column 'date'", "'3000/01/01'"),
    ("Date;Time;OT\n01/02/2020;10:00;1\n01/02/3000;11:00;2\n", {"time_col": "Date,Time", "dayfirst": True},
     "line 3, column 'Date,Time'", "'01/02/3000 11:00'"),
    # epoch numbers used to wrap around int64 silently (5138 became 2216, -1200 became 1723)
    ("ts,OT\n1700000000,1\n99999999999,2\n", {}, "line 3, column 'ts'", "'99999999999' (epoch seconds)"),
    ("ts,OT\n1700000000,1\n-99999999999,2\n", {}, "line 3, column 'ts'", "'-99999999999' (epoch seconds)"),
    ("ts,OT\n1700000000000,1\n-9700000000000,2\n", {}, "line 3, column 'ts'",
     "'-9700000000000' (epoch milliseconds)"),
    ("ts,OT\n1700000000,1\n9999999999999999999,2\n", {}, "line 3, column 'ts'",
     "'9999999999999999999' (epoch nanoseconds)"),
    ("ts,OT\n1700000000,1\n1e300,2\n", {}, "line 3, column 'ts'", "'1e300' (epoch nanoseconds)"),
])
def test_a_time_outside_the_supported_range_is_one_located_error(tmp_path, text, keywords, where, shown):
    path = tmp_path / "data.csv"
    path.write_text(text)
    with pytest.raises(DataError) as info:
        read_csv(path, **keywords)
    assert str(info.value) == f"{path}, {where}: time {shown} is outside the supported range 1677-09-22..2262-04-10"


def test_times_at_the_edges_of_the_range_are_read(tmp_path):
    path = tmp_path / "edges.csv"
    path.write_text("ts,OT\n1677-09-22T00:00:00Z,1\n2262-04-10T23:59:59Z,2\n")
    assert [str(t) for t in read_csv(path)["ts"]] == ["1677-09-22 00:00:00+00:00", "2262-04-10 23:59:59+00:00"]


def test_an_infinite_epoch_is_not_a_time(tmp_path):
    path = tmp_path / "inf.csv"
    path.write_text("ts,OT\n1700000000,1\ninf,2\n")
    with pytest.raises(DataError, match=r"line 3, column 'ts': cannot parse time 'inf' \(not a finite number\)"):
        read_csv(path)


@pytest.mark.parametrize("time_format", ["%Q", "%", "%Y%Y"])
def test_an_unusable_time_format_is_a_forecaster_error(tmp_path, time_format):
    # '%Y%Y' escaped as re.error from pandas' strptime, not a ValueError
    path = tmp_path / "fmt.csv"
    path.write_text("ts,OT\n2020-01-01,1\n")
    with pytest.raises(DataError, match=rf"^{path}, column 'ts': cannot use --time-format '{time_format}'"):
        read_csv(path, time_format=time_format)
