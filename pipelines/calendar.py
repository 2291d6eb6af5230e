"""Calendar inputs: sine/cosine encodings of each row's time (UTC), computed from slot times.

The batch path encodes the timestamps of a sensor's regular rows; the stream path encodes the
slots of a window from its last slot and the cadence (`window_calendar`). Both call `encode`
on the same nanosecond instants, so both give the same numbers.

Example:
    >>> parse_calendar("dow, hour")
    ('hour', 'dow')
    >>> encode(np.array([6 * 3600 * 10**9]), ("hour",)).round(6).tolist()   # 06:00: a quarter day
    [[1.0, 0.0]]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from pipelines.errors import ForecasterError
from pipelines.windows import WindowSpec

PARTS = ("hour", "dow", "doy", "month")
"""What can be encoded, in column order: time of day, day of week, day of year, month of year."""
NONE = "none"
AUTO = "auto"
"""The default: `auto_parts` chooses at training, from the spec, the cadence and the network."""
AUTO_PARTS = ("hour", "dow")
"""What ``auto`` turns on where it turns anything on."""
DAY_NS = 86_400 * 10**9
PREFIX = "calendar:"


def parse_calendar(value: str | Sequence[str] | None) -> tuple[str, ...]:
    """The calendar parts ``value`` names (``"hour,dow"``; ``"none"`` or empty: none), in `PARTS` order.

    Raises:
        ForecasterError: an unknown or repeated part.
    """
    if value is None:
        return ()
    names = [v.strip() for v in (value.split(",") if isinstance(value, str) else value)]
    names = [n for n in names if n and n != NONE]
    unknown = [n for n in names if n not in PARTS]
    if unknown or len(set(names)) != len(names):
        raise ForecasterError(f"`calendar` must be 'none' or a comma-separated subset of {', '.join(PARTS)} "
                              f"without repeats. Received: calendar={value!r}")
    return tuple(p for p in PARTS if p in names)


def auto_parts(spec: WindowSpec, step_ns: int, *, independent: bool) -> tuple[str, ...]:
    """What ``calendar="auto"`` becomes: `AUTO_PARTS` when the forecast reaches past the input window
    (``horizon > input_steps``) at a sub-daily cadence, so that the time of day and the day of the
    week are more than the window shows; none otherwise, and none for a channel-independent network
    (``independent``: calendar columns would make it mix the channels). Measured:
    docs/model-options.md, "Calendar inputs at long horizons".

    Example:
        >>> spec = WindowSpec(input_steps=96, horizon=192, features=["t"], targets=["t"])
        >>> hour = 3600 * 10**9
        >>> auto_parts(spec, hour, independent=False), auto_parts(spec, 24 * hour, independent=False)
        (('hour', 'dow'), ())
    """
    if independent or spec.horizon <= spec.input_steps or step_ns >= DAY_NS:
        return ()
    return AUTO_PARTS


def calendar_columns(parts: Sequence[str]) -> tuple[str, ...]:
    """The names of the input columns ``parts`` add (a sine and a cosine each)."""
    return tuple(f"{PREFIX}{p}_{f}" for p in parts for f in ("sin", "cos"))


def widen(spec: WindowSpec, parts: Sequence[str]) -> WindowSpec:
    """``spec`` with the calendar columns appended to its features (what the network reads)."""
    return spec if not parts else replace(spec, features=(*spec.features, *calendar_columns(parts)))


def as_ns(times: object) -> np.ndarray:
    """Instants (integers in ns, datetimes, timestamps; naive ones are UTC) as int64 ns since the epoch."""
    array = np.asarray(times)
    if array.dtype.kind in "iu":
        return array.astype("int64")
    index = pd.DatetimeIndex(np.ravel(array) if array.dtype.kind == "O" else array)
    if index.tz is not None:
        index = index.tz_convert("UTC").tz_localize(None)
    return index.as_unit("ns").asi8.reshape(array.shape)


def _phases(ns: np.ndarray, part: str) -> np.ndarray:
    """Where in its cycle each instant falls, in [0, 1)."""
    if part == "hour":
        return (ns % DAY_NS) / DAY_NS
    if part == "dow":  # 1970-01-01 was a Thursday: Monday is 0
        return ((ns + 3 * DAY_NS) % (7 * DAY_NS)) / (7 * DAY_NS)
    index = pd.DatetimeIndex(ns.ravel().astype("datetime64[ns]"))
    day = (ns.ravel() % DAY_NS) / DAY_NS
    if part == "doy":
        phase = (index.day_of_year.to_numpy() - 1 + day) / (365 + index.is_leap_year.astype("int64"))
    else:
        phase = (index.month.to_numpy() - 1 + (index.day.to_numpy() - 1 + day) / index.days_in_month.to_numpy()) / 12
    return np.asarray(phase, dtype="float64").reshape(ns.shape)


def encode(times: object, parts: Sequence[str]) -> np.ndarray:
    """``(*shape, 2 * len(parts))``: sine and cosine of each part's phase at each instant."""
    ns = as_ns(times)
    columns = []
    for part in parts:
        angle = 2 * np.pi * _phases(ns, part)
        columns += [np.sin(angle), np.cos(angle)]
    return np.stack(columns, axis=-1) if columns else np.zeros((*ns.shape, 0))


def window_calendar(ends: object, step_ns: int, length: int, parts: Sequence[str]) -> np.ndarray:
    """``(n, length, 2 * len(parts))``: the encodings of the ``length`` slots of each window that
    ends at ``ends`` (its last slot), one cadence step ``step_ns`` apart.

    Example:
        >>> window_calendar([12 * 3600 * 10**9], 3600 * 10**9, 2, ("hour",))[0, :, 1].round(3).tolist()
        [-0.966, -1.0]
    """
    last = as_ns(ends).reshape(-1)
    slots = last[:, None] - step_ns * np.arange(length - 1, -1, -1, dtype="int64")[None, :]
    return encode(slots, parts)
