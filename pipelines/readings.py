"""From a frame of readings to each sensor's readings on the cadence grid (nothing filled).

The one step that both forecasting (`pipelines.series.prepare`, which then interpolates
short gaps and cuts long ones) and backfill (`pipelines.gaps.raw_grids`, which keeps every
gap) start from: find the columns, parse the times, split by sensor, put each reading in its
slot ``floor(ts / step)``, sort by slot, and refuse two readings in one slot, or combine
them by the frame's ``aggregate`` rule (`aggregate_slots`, the one place of that rule).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipelines.columns import SINGLE_SENSOR, detect_columns
from pipelines.errors import DataError, ForecasterError
from pipelines.timeutil import freq_string, step_of

log = logging.getLogger(__name__)

ERROR = "error"
AGGREGATES = (ERROR, "mean", "last", "first", "min", "max", "sum")
"""How several readings of one sensor in one slot become one: ``error`` refuses them."""


def check_aggregate(aggregate: str | None) -> str:
    """The aggregate rule (``None``: the default, ``error``).

    Raises:
        ForecasterError: for a name not in `AGGREGATES`.
    """
    if aggregate is None:
        return ERROR
    if aggregate not in AGGREGATES:
        raise ForecasterError(f"`aggregate` must be one of {AGGREGATES}. Received: aggregate={aggregate!r}")
    return aggregate


def aggregate_slots(slots: np.ndarray, values: np.ndarray, how: str) -> tuple[np.ndarray, np.ndarray]:
    """Combine readings that share a slot, column by column.

    Args:
        slots: int64 slot of each reading, non-decreasing; readings of one slot in time order.
        values: float64 ``(n, n_columns)``, NaN where a cell is missing.
        how: one of `AGGREGATES` but ``error``; missing cells are skipped (a slot whose
            cells of a column are all missing stays missing there).

    Returns:
        ``(index, combined)``: ``index[j]`` is the position of the last reading of the j-th
        distinct slot, ``combined[j]`` its values.

    Example:
        >>> slots = np.array([5, 5, 6]); values = np.array([[1.0], [np.nan], [4.0]])
        >>> aggregate_slots(slots, np.array([[1.0], [3.0], [4.0]]), "mean")[1].ravel().tolist()
        [2.0, 4.0]
        >>> aggregate_slots(slots, values, "last")[1].ravel().tolist()
        [1.0, 4.0]
    """
    how = check_aggregate(how)
    if how == ERROR:
        raise ForecasterError("aggregate_slots needs a rule other than 'error'")
    last = np.flatnonzero(np.r_[np.diff(slots) != 0, True])
    return last, _combine(np.r_[0, last[:-1] + 1], np.asarray(values, dtype="float64"), how)


def _combine(starts: np.ndarray, values: np.ndarray, how: str) -> np.ndarray:
    """Each run ``values[starts[j]:starts[j + 1]]`` reduced by ``how``, NaN skipped.

    Computed with numpy's ``reduceat`` so that a slot's row depends on that slot's readings
    only (pandas' groupby sums a group differently when another group holds a NaN): the
    stream (`pipelines.stream`) combines one slot at a time and must get the same bits.
    """
    missing = np.isnan(values)
    counts = np.add.reduceat(~missing, starts, axis=0)
    if how in ("first", "last"):
        n = len(values)
        rows = np.arange(n)[:, None]
        if how == "first":
            pick = np.minimum.reduceat(np.where(missing, n, rows), starts, axis=0)
        else:
            pick = np.maximum.reduceat(np.where(missing, -1, rows), starts, axis=0)
        combined = np.take_along_axis(values, np.clip(pick, 0, n - 1), axis=0)
    elif how in ("min", "max"):
        combined = (np.fmin if how == "min" else np.fmax).reduceat(values, starts, axis=0)
    else:
        combined = np.add.reduceat(np.where(missing, 0.0, values), starts, axis=0)
        if how == "mean":
            combined = combined / np.maximum(counts, 1)
    return np.where(counts > 0, combined, np.nan)


@dataclass(frozen=True)
class SensorReadings:
    """One sensor's readings in slot order: ``values[i]`` was read in slot ``slots[i]`` on
    the frame's row at position ``rows[i]``."""

    rows: np.ndarray  # int64 positions in the frame
    slots: np.ndarray  # int64, strictly increasing
    values: np.ndarray  # float64 (n, n_columns), NaN where a cell is missing


def infer_freq(times: pd.Series | pd.DatetimeIndex, groups: pd.Series | None = None) -> str:
    """The most common positive step between consecutive readings of each sensor.

    Example:
        >>> infer_freq(pd.Series(pd.date_range("2026-01-01", periods=5, freq="15min")))
        '15min'
    """
    ns = pd.DatetimeIndex(times).as_unit("ns").asi8
    keys = np.zeros(len(ns), dtype="int64") if groups is None else pd.factorize(groups.to_numpy())[0]
    order = np.lexsort((ns, keys))  # by sensor, then time: the file's row order does not matter
    ns, keys = ns[order], keys[order]
    diffs = pd.Series(np.diff(ns))[np.diff(keys) == 0]
    diffs = diffs[diffs > 0]
    if diffs.empty:
        raise ForecasterError("cannot infer the cadence from fewer than two timestamps; pass freq")
    return freq_string(pd.Timedelta(int(diffs.mode().iloc[0]), unit="ns"))


def sensor_readings(
    frame: pd.DataFrame,
    columns: Sequence[str],
    *,
    freq: str | None = None,
    time_col: str | None = None,
    sensor_col: str | None = None,
    aggregate: str | None = None,
) -> tuple[str, dict[str, SensorReadings]]:
    """Every sensor's readings of ``columns``, in slot order.

    Args:
        frame: readings, e.g. from `pipelines.read_csv`.
        columns: the value columns to keep, in order.
        freq: the cadence (e.g. ``"1h"``); inferred when ``None``.
        time_col, sensor_col: as in `read_csv`; found by `pipelines.columns.detect_columns`
            when ``None`` (no time column: the frame's DatetimeIndex).
        aggregate: several readings in one slot (`AGGREGATES`); default
            ``frame.attrs["aggregate"]`` (set by `read_csv`), else an error. An aggregated
            slot's row is that of its last reading.

    Returns:
        ``(freq, {sensor: SensorReadings})``, sensors sorted by id (`SINGLE_SENSOR` for a
        frame of one series).

    Raises:
        DataError: a missing column, a missing timestamp, a non-numeric column, or two
            readings in one slot without an aggregate rule (with their times and rows).

    Example:
        >>> frame = pd.DataFrame({"ts": pd.to_datetime(["2026-01-01 03:00", "2026-01-01 00:00",
        ...     "2026-01-01 01:00"], utc=True), "a": [3.0, 0.0, np.nan]})
        >>> freq, by_sensor = sensor_readings(frame, ["a"])
        >>> r = by_sensor["0"]
        >>> freq, r.rows.tolist(), r.slots - r.slots[0], r.values[:, 0].tolist()
        ('1h', [1, 2, 0], array([0, 1, 3]), [0.0, nan, 3.0])
    """
    time_col, sensor_col = detect_columns(frame, time_col, sensor_col)
    source = frame.attrs.get("source")
    how = check_aggregate(aggregate or frame.attrs.get("aggregate"))
    times, sensors, values = _cells(frame, columns, time_col, sensor_col, source)
    freq = freq or infer_freq(times, sensors)
    ns = pd.DatetimeIndex(times).asi8
    slots = ns // step_of(freq).value
    out: dict[str, SensorReadings] = {}
    for sensor, rows in pd.Series(np.arange(len(frame))).groupby(sensors.to_numpy(), sort=True):
        idx = rows.to_numpy()
        order = idx[np.lexsort((ns[idx], slots[idx]))] if how != ERROR else idx[np.argsort(slots[idx], kind="stable")]
        out_of_order = int((np.diff(slots[idx]) < 0).sum())
        if out_of_order:
            log.info("sensor %s: %d out-of-order rows sorted by time", sensor, out_of_order)
        if how == ERROR:
            _refuse_shared_slots(frame, times, slots, order, freq, source, None if sensor_col is None else str(sensor))
            out[str(sensor)] = SensorReadings(rows=order, slots=slots[order], values=values[order])
        else:
            last, combined = aggregate_slots(slots[order], values[order], how)
            out[str(sensor)] = SensorReadings(rows=order[last], slots=slots[order][last], values=combined)
    return freq, out


def _cells(
    frame: pd.DataFrame, columns: Sequence[str], time_col: str | None, sensor_col: str | None, source: str | None
) -> tuple[pd.Series, pd.Series, np.ndarray]:
    """The times (UTC, ns), sensor ids and float64 values of every row, checked."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(f"missing column(s) {missing}; columns are {list(frame.columns)}", source=source)
    times = pd.to_datetime(frame.index if time_col is None else frame[time_col], utc=True)
    times = pd.Series(pd.DatetimeIndex(times).as_unit("ns"), index=frame.index)
    if times.isna().any():
        raise DataError("missing timestamps in the time column", source=source, column=time_col)
    sensors = (
        pd.Series(SINGLE_SENSOR, index=frame.index)
        if sensor_col is None
        else frame[sensor_col].astype(str)
    )
    try:
        values = frame[list(columns)].to_numpy(dtype="float64")
    except (TypeError, ValueError) as exc:
        raise DataError(f"value columns must be numeric: {exc}", source=source) from None
    return times, sensors, values


def _refuse_shared_slots(
    frame: pd.DataFrame, times: pd.Series, slots: np.ndarray, order: np.ndarray, freq: str,
    source: str | None, sensor: str | None,
) -> None:
    """Two readings of one sensor in one slot are an error naming both times and rows."""
    same = np.flatnonzero(np.diff(slots[order]) == 0)
    if len(same):
        first, second = order[same[0]], order[same[0] + 1]
        raise DataError(
            f"two readings in one {freq} slot ({times.iloc[first]} and {times.iloc[second]}, "
            f"rows {frame.index[first]} and {frame.index[second]}); combine them with --aggregate "
            "mean|last|first|min|max|sum (aggregate= in read_csv) or choose a finer --freq",
            source=source,
            sensor=sensor,
        )
