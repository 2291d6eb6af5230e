"""The reader's limits and locations: absurdly wide headers, nameless columns, line numbers
after blank lines, and bounded messages and logs for wide files."""

from __future__ import annotations

import logging
import time

import pytest

from pipelines import DataError, read_csv
from pipelines.columns import name_list
from pipelines.dialect import MAX_COLUMNS


def wide_file(path, columns: int, rows: int = 3, cell: str = "1"):
    with path.open("w") as handle:
        handle.write("date," + ",".join(f"c{i}" for i in range(columns)) + "\n")
        for hour in range(rows):
            handle.write(f"2020-01-01 {hour:02d}:00," + ",".join([cell] * columns) + "\n")
    return path


def test_a_million_column_header_is_refused_from_its_first_line_fast(tmp_path):
    path = wide_file(tmp_path / "wide.csv", 10**6)
    start = time.perf_counter()
    with pytest.raises(DataError) as info:
        read_csv(path)
    elapsed = time.perf_counter() - start
    assert str(info.value) == (f"{path}, line 1: the header has 1000001 columns separated by ',', more than the limit "
                               f"of {MAX_COLUMNS} (pipelines.dialect.MAX_COLUMNS)")
    assert elapsed < 2.0  # measured 0.22 s; it ran past 60 s before the limit


def test_the_limit_counts_fields_not_separators(tmp_path):
    header = "date,v," + '"' + ";" * (MAX_COLUMNS + 5) + '"'  # separators inside quotes are no columns
    path = tmp_path / "quoted.csv"
    path.write_text(header + "\n2020-01-01,1,2\n2020-01-02,3,4\n")
    assert read_csv(path, sep=",").shape == (2, 3)
    path.write_text(";".join(["date", *(f"c{i}" for i in range(MAX_COLUMNS))]) + "\n")
    with pytest.raises(DataError, match=f"the header has {MAX_COLUMNS + 1} columns separated by ';'"):
        read_csv(path)


def test_a_wide_file_under_the_limit_reads_without_warnings_or_a_log_line_per_column(tmp_path, caplog):
    # 20,000 columns printed 39,803 lines of pandas PerformanceWarning (one insert per column);
    # pytest turns warnings into errors here, so any warning fails this test
    path = wide_file(tmp_path / "wide.csv", 3000)
    with caplog.at_level(logging.DEBUG):
        frame = read_csv(path)
    assert frame.shape == (3, 3001)
    assert len(caplog.records) <= 3


def test_many_non_numeric_columns_give_one_error_naming_the_first(tmp_path, caplog):
    path = wide_file(tmp_path / "words.csv", 3000, cell="x")
    with caplog.at_level(logging.DEBUG), pytest.raises(DataError) as info:
        read_csv(path)
    assert str(info.value) == f"{path}, line 2, column 'c0': not a number: 'x'"
    assert len(caplog.records) <= 3


def test_messages_list_a_bounded_number_of_columns(tmp_path):
    path = wide_file(tmp_path / "wide.csv", 500)
    with pytest.raises(DataError) as info:
        read_csv(path, columns=["nope"])
    assert str(info.value).endswith("'c10', ... and 489 more]") and len(str(info.value)) < 400
    assert name_list(["a", "b"]) == "['a', 'b']"


@pytest.mark.parametrize("header, expected", [
    ("date,,OT", "column 2 of the header has no name"),  # raised KeyError: '' (exit 1)
    ("Date;Time;CO;T;", "column 5 of the header has no name (a separator at the end of the line?)"),
])
def test_a_nameless_column_is_a_located_error(tmp_path, header, expected):
    path = tmp_path / "nameless.csv"
    sep = ";" if ";" in header else ","
    path.write_text(header + "\n" + sep.join(["2020-01-01", "1", "2", "3", ""][: header.count(sep) + 1]) + "\n")
    with pytest.raises(DataError) as info:
        read_csv(path)
    assert str(info.value) == f"{path}, line 1: {expected}"


@pytest.mark.parametrize("text, line", [
    ("ts,v\n2026-01-01,1\n\n2026-01-02,x\n", 4),  # pandas skips the blank line: was reported as line 3
    ("ts,v,note\n2026-01-01,1,\"a\nb\"\n2026-01-02,x,c\n", 4),  # a quoted line break
    ("ts,v\n\n\n2026-01-01,x\n", 4),
    ("ts,v\n2026-01-01,1\n2026-01-02,x\n", 3),
])
def test_line_numbers_are_the_file_lines_after_blank_lines_and_quoted_breaks(tmp_path, text, line):
    path = tmp_path / "lines.csv"
    path.write_text(text)
    with pytest.raises(DataError) as info:
        read_csv(path)
    assert info.value.line == line and info.value.column == "v"


def test_line_numbers_of_a_frame_after_a_blank_line(tmp_path):
    path = tmp_path / "blank.csv"
    path.write_text("ts,v\n2026-01-01,1\n\n2026-01-02,2\n")
    assert read_csv(path).index.tolist() == [2, 4]


@pytest.mark.parametrize("text, expected", [
    ("ts,v\n11.12.2020 22.00.00,1\nbad,2\n", "line 3, column 'ts': cannot parse time 'bad' (the column's first time "
                                             "is a day/month/year date)"),  # was reported at line 2
    ("ts,v\n1700000000,1\nbad,2\n", "line 3, column 'ts': cannot parse time 'bad' (the column's first time is an "
                                    "epoch number)"),  # was reported at line 2, the good epoch
])
def test_a_cell_unlike_the_rest_of_its_time_column_is_the_one_reported(tmp_path, text, expected):
    path = tmp_path / "odd.csv"
    path.write_text(text)
    with pytest.raises(DataError) as info:
        read_csv(path)
    assert str(info.value) == f"{path}, {expected}"


def test_an_infinite_value_is_shown_as_written_not_as_a_numpy_repr(tmp_path):
    path = tmp_path / "inf.csv"
    path.write_text("ts,v\n2026-01-01,1\n2026-01-02,inf\n")
    with pytest.raises(DataError) as info:
        read_csv(path)
    assert str(info.value) == f"{path}, line 3, column 'v': infinite value inf"
