"""From a frame of readings to one regular series per sensor.

Invariants of a `Prepared` result: every series is on the same cadence ``freq``; values
are finite float64 in the order of ``columns``; rows within a segment are consecutive
slots; sensors never share rows.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from pipelines.readings import sensor_readings
from pipelines.regular import RegularSeries, regularize
from pipelines.timeutil import step_of, time_of_slot

log = logging.getLogger(__name__)


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

    Example:
        >>> frame = pd.DataFrame({"ts": pd.date_range("2026-01-01", periods=6, freq="1h", tz="UTC"),
        ...                       "a": [0.0, 1.0, None, 3.0, 4.0, 5.0]})
        >>> s = prepare(frame, ["a"], max_gap=1).series["0"]
        >>> s.values[:, 0].tolist(), bool(s.interpolated[2])
        ([0.0, 1.0, 2.0, 3.0, 4.0, 5.0], True)
    """
    freq, readings = sensor_readings(frame, columns, freq=freq, time_col=time_col, sensor_col=sensor_col)
    series: dict[str, RegularSeries] = {}
    for sensor, r in readings.items():
        series[sensor] = regularize(r.slots, r.values, max_gap)
        _log_report(sensor, series[sensor], freq)
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


def warn_ends_behind(
    frame: pd.DataFrame, time_col: str | None, sensors: list[str], ends: list[pd.Timestamp], step: pd.Timedelta,
    *, named: bool,
) -> None:
    """One warning naming the sensors whose last complete row is in an earlier slot than the frame's last time."""
    last = pd.to_datetime(frame.index if time_col is None else frame[time_col], utc=True).max()
    last_slot = last.value // step.value
    behind = [(s, last_slot - end.value // step.value, end + step) for s, end in zip(sensors, ends)
              if end.value // step.value < last_slot]
    if not behind:
        return
    iso = "%Y-%m-%dT%H:%M:%SZ"
    if not named:
        _, rows, start = behind[0]
        log.warning("the series ends %d step(s) before the data's last time %s (its last rows are missing or "
                    "incomplete): the forecast starts at %s", rows, last.strftime(iso), start.strftime(iso))
        return
    shown = ", ".join(f"{s} at {start.strftime(iso)} ({rows} step(s) early)" for s, rows, start in behind[:5])
    more = f" and {len(behind) - 5} more" if len(behind) > 5 else ""
    log.warning("%d sensor(s) end before the data's last time %s (their last rows are missing or incomplete); "
                "their forecasts start earlier: %s%s", len(behind), last.strftime(iso), shown, more)
