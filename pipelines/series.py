"""From a frame of readings to one regular series per sensor.

Invariants of a `Prepared` result: every series is on the same cadence ``freq``; values
are finite float64 in the order of ``columns``; rows within a segment are consecutive
slots; sensors never share rows.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipelines.csv_source import SENSOR_COLUMN_NAME, TIME_COLUMN_NAMES
from pipelines.errors import DataError, ForecasterError
from pipelines.regular import RegularSeries, regularize
from pipelines.timeutil import freq_string, step_of, time_of_slot

log = logging.getLogger(__name__)

SINGLE_SENSOR = "0"  # the sensor id of a file with one series


@dataclass(frozen=True)
class Prepared:
    """Regular series for each sensor, on one cadence."""

    freq: str
    columns: tuple[str, ...]
    series: dict[str, RegularSeries]

    @property
    def step(self) -> pd.Timedelta:
        """The cadence as a Timedelta."""
        return step_of(self.freq)

    def times(self, sensor: str) -> pd.DatetimeIndex:
        """The UTC timestamps of a sensor's rows."""
        return time_of_slot(self.series[sensor].slots, self.step.value)


def detect_columns(
    frame: pd.DataFrame, time_col: str | None, sensor_col: str | None
) -> tuple[str | None, str | None]:
    """Find the time and sensor columns of a frame (``None`` time = a DatetimeIndex)."""
    time_col = time_col or frame.attrs.get("time_col")
    sensor_col = sensor_col or frame.attrs.get("sensor_col")
    if time_col is None:
        time_col = next((c for c in TIME_COLUMN_NAMES if c in frame.columns), None)
        if time_col is None and not isinstance(frame.index, pd.DatetimeIndex):
            raise DataError(
                "no time column: name it with time_col= (or give the frame a DatetimeIndex)"
            )
    elif time_col not in frame.columns:
        raise DataError(f"no time column {time_col!r}; columns are {list(frame.columns)}")
    if sensor_col is None and SENSOR_COLUMN_NAME in frame.columns:
        sensor_col = SENSOR_COLUMN_NAME
    elif sensor_col is not None and sensor_col not in frame.columns:
        raise DataError(f"no sensor column {sensor_col!r}; columns are {list(frame.columns)}")
    return time_col, sensor_col


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


def prepare(
    frame: pd.DataFrame,
    columns: Sequence[str],
    *,
    freq: str | None = None,
    max_gap: int = 3,
    time_col: str | None = None,
    sensor_col: str | None = None,
) -> Prepared:
    """Split a frame by sensor and regularize each series.

    Args:
        frame: readings, e.g. from `pipelines.read_csv`.
        columns: the value columns to keep, in order.
        freq: the cadence (e.g. ``"1h"``); inferred when ``None``.
        max_gap: the longest run of missing slots that is interpolated.
        time_col, sensor_col: as in `read_csv`; found by name when ``None``.

    Raises:
        DataError: a missing column, a non-numeric column, or two readings in one slot.
    """
    time_col, sensor_col = detect_columns(frame, time_col, sensor_col)
    source = frame.attrs.get("source")
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
    freq = freq or infer_freq(times, sensors)
    step_ns = step_of(freq).value
    slots = pd.DatetimeIndex(times).asi8 // step_ns

    series: dict[str, RegularSeries] = {}
    for sensor, rows in pd.Series(np.arange(len(frame))).groupby(sensors.to_numpy(), sort=True):
        idx = rows.to_numpy()
        order = idx[np.argsort(slots[idx], kind="stable")]
        s = slots[order]
        same = np.flatnonzero(np.diff(s) == 0)
        if len(same):
            a, b = frame.index[order[same[0]]], frame.index[order[same[0] + 1]]
            raise DataError(
                f"two readings in one {freq} slot ({times.iloc[order[same[0]]]} and "
                f"{times.iloc[order[same[0] + 1]]}, rows {a} and {b}); "
                "aggregate them or choose a finer freq",
                source=source,
                sensor=None if sensor_col is None else str(sensor),
            )
        out_of_order = int((np.diff(slots[idx]) < 0).sum())
        if out_of_order:
            log.info("sensor %s: %d out-of-order rows sorted by time", sensor, out_of_order)
        series[str(sensor)] = regularize(s, values[order], max_gap)
        _log_report(str(sensor), series[str(sensor)], freq)
    return Prepared(freq=freq, columns=tuple(columns), series=series)


def _log_report(sensor: str, s: RegularSeries, freq: str) -> None:
    r = s.report
    if r.incomplete_rows or r.interpolated_slots or r.cut_gaps:
        log.info(
            "sensor %s (%s): %d rows, %d incomplete; %d slots interpolated in %d gaps; "
            "%d longer gaps cut it into %d segments",
            sensor, freq, r.rows_in, r.incomplete_rows, r.interpolated_slots,
            r.interpolated_gaps, len(r.cut_gaps), r.segments,
        )
