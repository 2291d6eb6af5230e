"""Read and validate a sensor CSV: one series (wide) or many (a sensor column).

The returned frame is indexed by the file's line number (header = line 1), so that any
later error can point at the line it came from.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.columns import sensor_column, time_column
from pipelines.errors import DataError
from pipelines.timeutil import parse_time_column

log = logging.getLogger(__name__)

MISSING_MARKERS = ("", "nan", "NaN", "NA", "N/A", "null", "None")


def read_csv(
    path: str | Path,
    *,
    time_col: str | None = None,
    sensor_col: str | None = None,
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Read a sensor CSV and check every cell that will be used.

    Args:
        path: the file.
        time_col: the time column; default: the first of ``ts, time, timestamp, date,
            datetime`` that is present, else the first column.
        sensor_col: the sensor id column of a long file; default ``sensor`` if present,
            else the file holds one series.
        columns: the numeric columns to keep; default all other columns.

    Returns:
        A DataFrame with the time column as ``datetime64[ns, UTC]``, the sensor column (if
        any) as strings and the value columns as float64 (NaN where a cell is empty). Its
        index is the line number in the file; ``frame.attrs`` holds ``source``,
        ``time_col`` and ``sensor_col``.

    Raises:
        DataError: naming the file, line and column of the first problem: missing file or
            column, empty file, malformed row, unparseable time, non-numeric value,
            duplicate timestamp for a sensor.

    Example:
        >>> frame = read_csv("data/ETTh1.csv")
        >>> frame.attrs["time_col"], list(frame.columns[:3]), int(frame.index[0])
        ('date', ['date', 'HUFL', 'HULL'], 2)
    """
    source = str(path)
    header = _read_header(Path(path))
    time_col, sensor_col, columns = _choose_columns(header, time_col, sensor_col, columns, source)
    raw = _read_cells(path, [c for c in (time_col, sensor_col) if c is not None], source)
    frame = pd.DataFrame(index=raw.index)
    frame[time_col] = _times(raw[time_col], source=source, column=time_col)
    if sensor_col is not None:
        frame[sensor_col] = _sensor_ids(raw[sensor_col], source=source, column=sensor_col)
    for column in columns:
        frame[column] = _numeric(raw[column], source=source, column=column)
    _check_duplicates(frame, time_col, sensor_col, source)
    frame.attrs.update(source=source, time_col=time_col, sensor_col=sensor_col)
    return frame


def _choose_columns(
    header: list[str], time_col: str | None, sensor_col: str | None, columns: Sequence[str] | None, source: str
) -> tuple[str, str | None, list[str]]:
    """The time, sensor and value columns of a file, by the rule of `pipelines.columns`
    (a file without a known time column name uses its first column), each checked against
    the header (line 1)."""
    time_col = time_column(header, time_col or None) or header[0]
    sensor_col = sensor_column(header, sensor_col)
    for name, flag in ((time_col, "--time-col"), (sensor_col, "--sensor-col")):
        if name is not None and name not in header:
            raise DataError(
                f"no column {name!r} ({flag}); the header has {header}", source=source, line=1
            )
    keyed = [c for c in (time_col, sensor_col) if c is not None]
    if columns is None:
        columns = [c for c in header if c not in keyed]
    else:
        columns = list(columns)
        missing = [c for c in columns if c not in header]
        if missing:
            raise DataError(
                f"missing column(s) {missing}; the header has {header}", source=source, line=1
            )
    if not columns:
        raise DataError("no value columns besides the time and sensor columns", source=source)
    return time_col, sensor_col, columns


def _read_cells(path: str | Path, keyed: list[str], source: str) -> pd.DataFrame:
    """Every cell of the file (key columns as text), indexed by line number."""
    try:
        raw = pd.read_csv(
            path,
            dtype={c: str for c in keyed},
            na_values=list(MISSING_MARKERS),
            keep_default_na=False,
            on_bad_lines="error",
            engine="c",
        )
    except pd.errors.ParserError as exc:
        raise DataError(f"malformed CSV: {exc}".strip(), source=source) from None
    if raw.empty:
        raise DataError("no data rows after the header", source=source)
    raw.index = pd.RangeIndex(2, len(raw) + 2, name="line")
    return raw


def _times(raw: pd.Series, *, source: str, column: str) -> pd.Series:
    times, bad = parse_time_column(raw)
    if bad.any():
        line = int(raw.index[np.argmax(bad)])
        raise DataError(
            f"cannot parse time {raw[line]!r} (want ISO 8601 or epoch seconds)",
            source=source,
            line=line,
            column=column,
        )
    return times


def _sensor_ids(raw: pd.Series, *, source: str, column: str) -> pd.Series:
    sensors = raw.fillna("").str.strip()
    empty = (sensors == "").to_numpy()
    if empty.any():
        line = int(raw.index[np.argmax(empty)])
        raise DataError("empty sensor id", source=source, line=line, column=column)
    return sensors.astype(object)


def _read_header(path: Path) -> list[str]:
    if not path.is_file():
        raise DataError("no such file", source=str(path))
    with path.open(newline="", encoding="utf-8-sig") as handle:
        try:
            header = next(csv.reader(handle), None)
        except (csv.Error, UnicodeDecodeError) as exc:
            raise DataError(f"not a readable CSV file: {exc}", source=str(path)) from None
    if not header or not any(h.strip() for h in header):
        raise DataError("empty file: no header row", source=str(path))
    duplicated = sorted({h for h in header if header.count(h) > 1})
    if duplicated:
        raise DataError(f"duplicate column name(s) {duplicated}", source=str(path), line=1)
    return header


def _numeric(raw: pd.Series, *, source: str, column: str) -> pd.Series:
    if raw.dtype.kind in "fiub":  # the parser read every cell as a number (or a missing marker)
        values = raw.astype("float64")
    else:
        values = _numeric_from_text(raw, source=source, column=column)
    infinite = np.isinf(values.to_numpy())
    if infinite.any():
        line = int(raw.index[np.argmax(infinite)])
        raise DataError(f"infinite value {raw[line]!r}", source=source, line=line, column=column)
    return values


def _numeric_from_text(raw: pd.Series, *, source: str, column: str) -> pd.Series:
    """The slow path for a column the parser could not read as numbers: find the bad cell."""
    text = raw.astype("string").fillna("").str.strip()
    missing = text.isin(MISSING_MARKERS)
    values = pd.to_numeric(text.mask(missing), errors="coerce")
    bad = (values.isna() & ~missing).to_numpy()
    if bad.any():
        line = int(raw.index[np.argmax(bad)])
        raise DataError(
            f"not a number: {raw[line]!r}", source=source, line=line, column=column
        )
    return values.astype("float64")


def _check_duplicates(
    frame: pd.DataFrame, time_col: str, sensor_col: str | None, source: str
) -> None:
    keys = [time_col] if sensor_col is None else [sensor_col, time_col]
    dup = frame.duplicated(subset=keys, keep=False).to_numpy()
    if dup.any():
        rows = frame[dup]
        first = rows.iloc[0]
        same = rows[(rows[keys] == first[keys]).all(axis=1)]
        lines = [int(i) for i in same.index[:2]]
        who = "" if sensor_col is None else f" for sensor {first[sensor_col]!r}"
        raise DataError(
            f"duplicate timestamp {first[time_col]}{who} on lines {lines[0]} and {lines[1]}",
            source=source,
            line=lines[1],
            column=time_col,
        )
