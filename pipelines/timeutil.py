"""Time parsing and the cadence grid, shared by the CSV and MQTT paths.

Every timestamp becomes a UTC `pandas.Timestamp` with nanosecond resolution. Naive ISO
strings are taken as UTC; bare numbers are epoch seconds.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from pipelines.errors import ForecasterError

NS_PER_SECOND = 1_000_000_000
TIME_MIN = pd.Timestamp("1677-09-22", tz="UTC")
TIME_MAX = pd.Timestamp("2262-04-11", tz="UTC") - pd.Timedelta(1, "ns")
"""The supported times: the whole days that nanosecond timestamps can hold (pandas' limits
are 1677-09-21 00:12:43 and 2262-04-11 23:47:16); a time outside is refused, never wrapped."""
TIME_RANGE = f"{TIME_MIN:%Y-%m-%d}..{TIME_MAX:%Y-%m-%d}"


def outside_range(shown: object) -> str:
    """The message for a time outside `TIME_RANGE` (``shown``: the time as the user wrote it).

    Example:
        >>> outside_range("3000-01-01")
        'time 3000-01-01 is outside the supported range 1677-09-22..2262-04-10'
    """
    return f"time {shown} is outside the supported range {TIME_RANGE}"


def parse_timestamp(value: object) -> pd.Timestamp:
    """Parse one timestamp (ISO 8601 string or epoch seconds) to UTC.

    Raises:
        ForecasterError: when the value is not a time.

    Example:
        >>> str(parse_timestamp(0))
        '1970-01-01 00:00:00+00:00'
        >>> str(parse_timestamp("2026-11-23T12:00:00Z"))
        '2026-11-23 12:00:00+00:00'
    """
    if isinstance(value, bool):
        raise ForecasterError(f"not a timestamp: {value!r}")
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise ForecasterError(f"not a timestamp: {value!r}")
        if not TIME_MIN.value <= value * NS_PER_SECOND <= TIME_MAX.value:
            raise ForecasterError(outside_range(f"{value!r} (epoch seconds)"))
        return pd.Timestamp(round(value * NS_PER_SECOND), unit="ns", tz="UTC")
    if isinstance(value, str):
        try:
            ts = pd.Timestamp(value.strip())
            ts = None if ts is pd.NaT else ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
        except (ValueError, OverflowError):  # OutOfBoundsDatetime is a ValueError
            ts = None
        if ts is None:
            raise ForecasterError(f"not an ISO 8601 timestamp: {value[:64]!r}")
        if not TIME_MIN <= ts <= TIME_MAX:
            raise ForecasterError(outside_range(repr(value[:64])))
        return ts.as_unit("ns")
    raise ForecasterError(f"not a timestamp: {type(value).__name__}")


def step_of(freq: str) -> pd.Timedelta:
    """The fixed step of a cadence string such as ``"1h"`` or ``"15min"``.

    Raises:
        ForecasterError: for a cadence that is not a fixed, positive duration.

    Example:
        >>> step_of("15min")
        Timedelta('0 days 00:15:00')
    """
    try:
        step = pd.Timedelta(pd.tseries.frequencies.to_offset(freq))
    except (ValueError, TypeError):
        raise ForecasterError(
            f"`freq` must be a fixed duration such as '1h' or '15min'. Received: freq={freq!r}"
        ) from None
    if step <= pd.Timedelta(0):
        raise ForecasterError(f"`freq` must be positive. Received: freq={freq!r}")
    return step


def freq_string(step: pd.Timedelta) -> str:
    """The canonical cadence string of a step.

    Example:
        >>> freq_string(pd.Timedelta(minutes=15))
        '15min'
    """
    text = pd.tseries.frequencies.to_offset(step).freqstr
    return text if text[0].isdigit() else f"1{text}"


def slot_of(ts: pd.Timestamp | np.ndarray, step_ns: int) -> np.ndarray | int:
    """The index of the cadence slot holding a time (floor to the grid from the epoch)."""
    if isinstance(ts, pd.Timestamp):
        return ts.value // step_ns
    return np.asarray(ts, dtype="int64") // step_ns


def time_of_slot(slot: int | np.ndarray, step_ns: int) -> pd.Timestamp | pd.DatetimeIndex:
    """The UTC start time of a slot (or an array of slots)."""
    if np.ndim(slot) == 0:
        return pd.Timestamp(int(slot) * step_ns, unit="ns", tz="UTC")
    return pd.DatetimeIndex(np.asarray(slot, dtype="int64") * step_ns, tz="UTC").as_unit("ns")


EPOCH_UNITS = ((1e11, 1_000_000_000, "seconds"), (1e14, 1_000_000, "milliseconds"), (1e17, 1_000, "microseconds"))
"""The one epoch rule (CSV time columns and payload timestamps): numbers below each magnitude
are epoch values of that unit (ns per unit); larger ones are nanoseconds. 1e11 seconds is the
year 5138, 1e11 milliseconds March 1973."""


def epoch_unit_ns(magnitude: float) -> int:
    """Nanoseconds per unit of epoch numbers of this magnitude (the largest of a column, or one value).

    Example:
        >>> [epoch_unit_ns(v) for v in (1.7e9, 1.7e12, 1.7e15, 1.7e18)]
        [1000000000, 1000000, 1000, 1]
    """
    return next((ns for bound, ns, _ in EPOCH_UNITS if abs(magnitude) < bound), 1)



def epoch_unit_name(magnitude: float) -> str:
    """The unit `epoch_unit_ns` chooses, by name.

    Example:
        >>> epoch_unit_name(1.7e12)
        'milliseconds'
    """
    return next((name for bound, _, name in EPOCH_UNITS if abs(magnitude) < bound), "nanoseconds")
