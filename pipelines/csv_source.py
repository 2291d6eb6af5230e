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

from pipelines.columns import name_list, sensor_column, time_column
from pipelines.csv_times import joined_text, parse_times
from pipelines.dialect import Dialect, detect, missing_codes
from pipelines.errors import DataError
from pipelines.readings import ERROR, check_aggregate

log = logging.getLogger(__name__)

TIME_OF_DAY_NAMES = ("time", "hour", "clock", "time of day")
MISSING_MARKERS = ("", "nan", "NaN", "NA", "N/A", "null", "None")


def read_csv(
    path: str | Path,
    *,
    time_col: str | Sequence[str] | None = None,
    sensor_col: str | None = None,
    columns: Sequence[str] | None = None,
    sep: str | None = None, decimal: str | None = None, missing: Sequence[object] = (),
    time_format: str | None = None, dayfirst: bool | None = None, aggregate: str | None = None,
) -> pd.DataFrame:
    """Read a sensor CSV and check every cell that will be used.

    Args:
        path: the file.
        time_col: the time column; default: the first of ``ts, time, timestamp, date,
            datetime`` that is present, else the first column. Two names (``"Date,Time"``
            or a list) are joined with a space into one time column named ``"Date,Time"``.
        sensor_col: the sensor id column of a long file; default ``sensor`` if present.
        columns: the numeric columns to keep; default all other columns.
        sep, decimal: ``, ; | tab`` and ``.`` or ``,``; default detected (`pipelines.dialect`).
        missing: numbers that mean "no reading" (``-200`` also matches ``-200,0``).
        time_format, dayfirst: for times the default rule cannot read (`pipelines.csv_times`).
        aggregate: several readings of a sensor in one cadence slot: a rule of
            `pipelines.readings.AGGREGATES`, kept in ``frame.attrs`` for `sensor_readings`;
            default an error.

    Returns:
        A DataFrame: time as ``datetime64[ns, UTC]``, sensor ids as strings, values as
        float64 (NaN: missing), indexed by line number in the file. ``frame.attrs``: ``source``,
        ``time_col``, ``sensor_col``, ``sep``, ``decimal``, ``aggregate``, ``missing_cells``
        (value cells without a reading), ``coded_cells`` (those equal to a ``missing`` code).

    Raises:
        DataError: naming the file, line and column of the first problem: missing file or
            column, one column (naming the separator), empty file, malformed row, bad time,
            non-numeric value, duplicate timestamp for a sensor.
        ForecasterError: an unknown ``sep``, ``decimal`` or ``aggregate``; a non-numeric code.

    Example:
        >>> frame = read_csv("data/ETTh1.csv")
        >>> frame.attrs["time_col"], list(frame.columns[:3]), int(frame.index[0])
        ('date', ['date', 'HUFL', 'HULL'], 2)
    """
    source = str(path)
    aggregate = check_aggregate(aggregate)
    codes = missing_codes(missing)
    dialect = detect(_existing(Path(path)), sep=sep, decimal=decimal)
    time_parts, sensor_col, columns = _choose_columns(_read_header(Path(path), dialect.sep), time_col, sensor_col,
                                                      columns, source)
    time_col = ",".join(time_parts)
    raw = _read_cells(path, [*time_parts, *([sensor_col] if sensor_col else [])], dialect, source)
    frame = _key_columns(raw, time_parts, sensor_col, time_format, dayfirst, source)
    frame, coded = _add_values(frame, raw, columns, codes, dialect.decimal, source, time_col)
    if aggregate == ERROR:
        _check_duplicates(frame, time_col, sensor_col, source)
    frame.attrs.update(source=source, time_col=time_col, sensor_col=sensor_col, sep=dialect.sep,
                       decimal=dialect.decimal, aggregate=aggregate,
                       missing_cells=int(frame[columns].isna().to_numpy().sum()), coded_cells=coded)
    return frame


def _key_columns(
    raw: pd.DataFrame, time_parts: list[str], sensor_col: str | None, time_format: str | None,
    dayfirst: bool | None, source: str,
) -> pd.DataFrame:
    """A frame of the parsed time column (``time_parts`` joined) and the sensor ids."""
    time_col = ",".join(time_parts)
    frame = pd.DataFrame(index=raw.index)
    frame[time_col] = parse_times(joined_text(raw, time_parts), time_format=time_format, dayfirst=dayfirst,
                                  source=source, column=time_col)
    if sensor_col is not None:
        frame[sensor_col] = _sensor_ids(raw[sensor_col], source=source, column=sensor_col)
    return frame


def _with_time_hint(exc: DataError, time_col: str) -> DataError:
    """A non-numeric ``Time``-like column beside a date column: suggest joining the two."""
    if exc.column is None or exc.column.strip().lower() not in TIME_OF_DAY_NAMES or "," in time_col:
        return exc
    return DataError(f"{exc.reason}; if it is the time of day, join it to the date with --time-col "
                     f"{time_col},{exc.column}", source=exc.source, line=exc.line, column=exc.column)


def _add_values(
    frame: pd.DataFrame, raw: pd.DataFrame, columns: list[str], codes: tuple[float, ...], decimal: str, source: str,
    time_col: str,
) -> tuple[pd.DataFrame, int]:
    """``frame`` with the value columns (cells equal to a code missing), and how many were coded.

    The columns are added at once: one insert per column fragments the frame (a pandas
    `PerformanceWarning` per column past 100)."""
    coded = 0
    out: dict[str, pd.Series] = {}
    for column in columns:
        try:
            values = _numeric(raw[column], source=source, column=column, decimal=decimal)
        except DataError as exc:
            raise _with_time_hint(exc, time_col) from None
        is_code = values.isin(codes).to_numpy() if codes else np.zeros(len(values), dtype=bool)
        coded += int(is_code.sum())
        out[column] = values.mask(is_code)
    return pd.concat([frame, pd.DataFrame(out, index=frame.index)], axis=1), coded


def _choose_columns(
    header: list[str], time_col: str | Sequence[str] | None, sensor_col: str | None, columns: Sequence[str] | None,
    source: str,
) -> tuple[list[str], str | None, list[str]]:
    """The time column(s), sensor and value columns of a file, by the rule of
    `pipelines.columns` (a file without a known time column name uses its first column),
    each checked against the header (line 1)."""
    names = time_col.split(",") if isinstance(time_col, str) else list(time_col or [])
    names = [n.strip() for n in names if n.strip()]
    time_parts = names or [time_column(header) or header[0]]
    sensor_col = sensor_column(header, sensor_col)
    flag = f"--time-col {','.join(time_parts)}"
    for name, option in [*((n, flag) for n in time_parts), (sensor_col, "--sensor-col")]:
        if name is not None and name not in header:
            raise DataError(
                f"no column {name!r} ({option}); the header has {name_list(header)}", source=source, line=1
            )
    keyed = [*time_parts, *([sensor_col] if sensor_col else [])]
    if columns is None:
        columns = [c for c in header if c not in keyed]
    else:
        columns = list(columns)
        missing = [c for c in columns if c not in header]
        if missing:
            raise DataError(
                f"missing column(s) {name_list(missing)}; the header has {name_list(header)}", source=source, line=1
            )
    if not columns:
        raise DataError("no value columns besides the time and sensor columns", source=source)
    return time_parts, sensor_col, columns


def _read_cells(path: str | Path, keyed: list[str], dialect: Dialect, source: str) -> pd.DataFrame:
    """Every cell of the file (key columns as text), indexed by line number."""
    try:
        raw = pd.read_csv(
            path,
            sep=dialect.sep,
            decimal=dialect.decimal,
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
    raw.index = _line_numbers(Path(path), len(raw), dialect.sep)
    return raw


def _line_numbers(path: Path, rows: int, sep: str) -> pd.Index:
    """The file line where each data row starts: 2, 3, ... unless blank lines (which pandas
    skips) or quoted line breaks shift them; then counted with the `csv` module."""
    if not _shifted_lines(path):
        return pd.RangeIndex(2, rows + 2, name="line")
    starts, previous = [], 1
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle, delimiter=sep)
        try:
            next(reader, None)
            previous = reader.line_num
            for row in reader:
                if row:
                    starts.append(previous + 1)
                previous = reader.line_num
        except csv.Error:
            starts = []
    if len(starts) != rows:  # the two parsers disagree: the plain count is the better guess
        return pd.RangeIndex(2, rows + 2, name="line")
    return pd.Index(starts, name="line")


def _shifted_lines(path: Path, chunk: int = 1 << 20) -> bool:
    """Whether a file holds a quote or a blank line (read in chunks, not all at once)."""
    tail = b""
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            text = tail + block
            if b'"' in text or b"\n\n" in text or b"\n\r\n" in text:
                return True
            tail = text[-2:]
    return False


def _sensor_ids(raw: pd.Series, *, source: str, column: str) -> pd.Series:
    sensors = raw.fillna("").str.strip()
    empty = (sensors == "").to_numpy()
    if empty.any():
        line = int(raw.index[np.argmax(empty)])
        raise DataError("empty sensor id", source=source, line=line, column=column)
    return sensors.astype(object)


def _existing(path: Path) -> Path:
    if not path.is_file():
        raise DataError("no such file", source=str(path))
    return path


def _read_header(path: Path, sep: str = ",") -> list[str]:
    with _existing(path).open(newline="", encoding="utf-8-sig") as handle:
        try:
            header = next(csv.reader(handle, delimiter=sep), None)
        except (csv.Error, UnicodeDecodeError) as exc:
            raise DataError(f"not a readable CSV file: {exc}", source=str(path)) from None
    if not header or not any(h.strip() for h in header):
        raise DataError("empty file: no header row", source=str(path))
    empty = [i + 1 for i, h in enumerate(header) if not h.strip()]
    if empty:
        hint = " (a separator at the end of the line?)" if empty[-1] == len(header) else ""
        raise DataError(f"column {empty[0]} of the header has no name{hint}", source=str(path), line=1)
    duplicated = sorted({h for h in header if header.count(h) > 1})
    if duplicated:
        raise DataError(f"duplicate column name(s) {duplicated}", source=str(path), line=1)
    return header


def _numeric(raw: pd.Series, *, source: str, column: str, decimal: str = ".") -> pd.Series:
    if raw.dtype.kind in "fiub":  # the parser read every cell as a number (or a missing marker)
        values = raw.astype("float64")
    else:
        values = _numeric_from_text(raw, source=source, column=column, decimal=decimal)
    infinite = np.isinf(values.to_numpy())
    if infinite.any():
        line = int(raw.index[np.argmax(infinite)])
        cell = raw[line]
        raise DataError(f"infinite value {cell!r}" if isinstance(cell, str) else f"infinite value {float(cell)}",
                        source=source, line=line, column=column)
    return values


def _numeric_from_text(raw: pd.Series, *, source: str, column: str, decimal: str = ".") -> pd.Series:
    """The slow path for a column the parser could not read as numbers: find the bad cell."""
    text = raw.astype("string").fillna("").str.strip()
    missing = text.isin(MISSING_MARKERS)
    number = text if decimal == "." else text.str.replace(",", ".", regex=False)
    values = pd.to_numeric(number.mask(missing), errors="coerce")
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
            f"duplicate timestamp {first[time_col]}{who} on lines {lines[0]} and {lines[1]} "
            "(--aggregate mean|last|first|min|max|sum combines readings of one slot)",
            source=source,
            line=lines[1],
            column=time_col,
        )
