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


def parse_time_column(raw: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Parse a column of ISO 8601 strings or epoch seconds.

    Args:
        raw: the column as strings (missing cells as NaN or "").

    Returns:
        The parsed times (``datetime64[ns, UTC]``, NaT where unparseable) and a boolean
        mask of the cells that could not be parsed.

    Example:
        >>> times, bad = parse_time_column(pd.Series(["2026-01-01T00:00:00Z", "x"]))
        >>> str(times[0]), bad.tolist()
        ('2026-01-01 00:00:00+00:00', [False, True])
    """
    text = raw.astype("string").str.strip()
    numbers = pd.to_numeric(text, errors="coerce")
    if numbers.notna().all() and len(text):
        seconds = numbers.to_numpy(dtype="float64")
        ns = np.round(seconds * NS_PER_SECOND).astype("int64")
        parsed = pd.Series(pd.to_datetime(ns, unit="ns", utc=True), index=raw.index)
    else:
        parsed = pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")
    parsed = parsed.astype("datetime64[ns, UTC]")
    return parsed, parsed.isna().to_numpy()


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
        return pd.Timestamp(round(value * NS_PER_SECOND), unit="ns", tz="UTC")
    if isinstance(value, str):
        try:
            ts = pd.Timestamp(value.strip())
        except (ValueError, OverflowError):
            ts = None
        if ts is None or ts is pd.NaT:
            raise ForecasterError(f"not an ISO 8601 timestamp: {value[:64]!r}")
        ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
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

