"""The one rule that finds the time and sensor columns, in a CSV header or a frame.

An explicit name always wins; then names the caller prefers (e.g. what a bundle was
trained with); then the first of ``ts, time, timestamp, date, datetime`` for time and
``sensor`` for the sensor id. What happens when nothing matches depends on the source: a
CSV falls back to its first column, a frame to its DatetimeIndex, and a frame of one
series simply has no sensor column.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pandas as pd

from pipelines.errors import DataError

TIME_COLUMN_NAMES = ("ts", "time", "timestamp", "date", "datetime")
SENSOR_COLUMN_NAME = "sensor"
SINGLE_SENSOR = "0"  # the sensor id of a file with one series


def find_column(names: Iterable[str], given: str | None, candidates: Sequence[str | None]) -> str | None:
    """``given``, else the first of ``candidates`` that is in ``names``, else ``None``.

    Example:
        >>> find_column(["a", "date", "ts"], None, TIME_COLUMN_NAMES)
        'ts'
        >>> find_column(["a"], "x", TIME_COLUMN_NAMES), find_column(["a"], None, TIME_COLUMN_NAMES)
        ('x', None)
    """
    if given is not None:
        return given
    present = set(names)
    return next((c for c in candidates if c is not None and c in present), None)


def time_column(names: Iterable[str], given: str | None = None, *, prefer: Sequence[str | None] = ()) -> str | None:
    """The time column among ``names`` (``None``: not found), by the rule above.

    Example:
        >>> time_column(["date", "OT"]), time_column(["when", "OT"]), time_column(["when", "ts"], prefer=["when"])
        ('date', None, 'when')
    """
    return find_column(names, given, (*prefer, *TIME_COLUMN_NAMES))


def sensor_column(names: Iterable[str], given: str | None = None, *, prefer: Sequence[str | None] = ()) -> str | None:
    """The sensor id column among ``names`` (``None``: one series), by the rule above.

    Example:
        >>> sensor_column(["sensor", "ts"]), sensor_column(["ts", "OT"])
        ('sensor', None)
    """
    return find_column(names, given, (*prefer, SENSOR_COLUMN_NAME))


def detect_columns(
    frame: pd.DataFrame, time_col: str | None, sensor_col: str | None
) -> tuple[str | None, str | None]:
    """Find the time and sensor columns of a frame (``None`` time = a DatetimeIndex).

    Names recorded by `pipelines.read_csv` in ``frame.attrs`` come before the default names.

    Raises:
        DataError: a named column that is not there, or no time column and no DatetimeIndex.
    """
    time_col = time_column(frame.columns, time_col or frame.attrs.get("time_col"))
    sensor_col = sensor_column(frame.columns, sensor_col or frame.attrs.get("sensor_col"))
    if time_col is None:
        if not isinstance(frame.index, pd.DatetimeIndex):
            raise DataError("no time column: name it with time_col= (or give the frame a DatetimeIndex)")
    elif time_col not in frame.columns:
        raise DataError(f"no time column {time_col!r}; columns are {list(frame.columns)}")
    if sensor_col is not None and sensor_col not in frame.columns:
        raise DataError(f"no sensor column {sensor_col!r}; columns are {list(frame.columns)}")
    return time_col, sensor_col


def name_list(names: Sequence[str], limit: int = 12, *, quoted: bool = True) -> str:
    """Column names for a message, at most ``limit`` of them (a header may hold thousands):
    a list's repr, or (``quoted=False``) the bare names joined with commas.

    Example:
        >>> name_list(["a", "b"]), name_list(["a", "b"], quoted=False)
        ("['a', 'b']", 'a, b')
        >>> name_list([f"c{i}" for i in range(100)], limit=3)
        "['c0', 'c1', 'c2', ... and 97 more]"
    """
    names = list(names)
    shown = [repr(n) if quoted else str(n) for n in names[:limit]]
    if len(names) > limit:
        shown.append(f"... and {len(names) - limit} more")
    text = ", ".join(shown)
    return f"[{text}]" if quoted else text
