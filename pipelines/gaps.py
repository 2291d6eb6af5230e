"""Gaps as they are in the raw data: the cadence grid with NaN where a reading is missing.

`pipelines.regular` interpolates short gaps and cuts long ones, which is right for
forecasting but hides what a backfill needs: the runs of missing slots themselves. Here a
sensor's readings go onto the same grid (slot ``floor(ts / step)``, two readings in one
slot are an error) from its first to its last row, *without* filling anything:

- a missing timestamp is a grid row that no file row maps to (all values NaN);
- a missing value is a NaN cell of a row that exists;
- a gap is a maximal run of missing values in one column of one sensor.

A backfill window (`BackfillSpec`) is ``window`` slots centred on a gap; slots outside
the series count as unobserved.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipelines.checks import integer
from pipelines.columns import detect_columns
from pipelines.errors import DataError, ForecasterError
from pipelines.readings import SensorReadings, sensor_readings
from pipelines.windows import _names, gather

FILLED = "filled"
TOO_LONG = "longer than max-fill"
NO_CONTEXT_BEFORE = "too little context before"
NO_CONTEXT_AFTER = "too little context after"


@dataclass(frozen=True)
class BackfillSpec:
    """How a backfill network sees a gap.

    Args:
        window: slots the network sees, the gap centred in them.
        max_fill: the longest gap (in slots) the network is trained to fill.
        min_context: observed readings of the gap's column needed on each side of the gap
            inside the window; a gap with fewer is left missing.
        features: the columns the network reads and fills (all of them, together).

    Example:
        >>> spec = BackfillSpec(window=16, max_fill=4, min_context=2, features=["a", "b"])
        >>> spec.placement(3)   # a 3-slot gap: 6 slots before it, 7 after
        6
        >>> BackfillSpec(window=8, max_fill=6, min_context=2, features=["a"])
        Traceback (most recent call last):
        ...
        pipelines.errors.ForecasterError: `window` must hold max_fill + 2 * min_context = 10 slots. Received: window=8
    """

    window: int
    max_fill: int
    min_context: int
    features: tuple[str, ...]

    def __post_init__(self) -> None:
        for name in ("window", "max_fill", "min_context"):
            integer(1)(name, getattr(self, name))
        object.__setattr__(self, "features", _names("features", self.features))
        need = self.max_fill + 2 * self.min_context
        if self.window < need:
            raise ForecasterError(
                f"`window` must hold max_fill + 2 * min_context = {need} slots. Received: window={self.window}"
            )

    def placement(self, length: int) -> int:
        """Slots of the window before a gap of ``length`` slots (the gap is centred)."""
        return (self.window - length) // 2

    def to_dict(self) -> dict:
        """Plain JSON-able form."""
        return {"window": self.window, "max_fill": self.max_fill, "min_context": self.min_context,
                "features": list(self.features)}

    @classmethod
    def from_dict(cls, data: dict) -> BackfillSpec:
        """Inverse of `to_dict`."""
        return cls(**data)


@dataclass(frozen=True)
class Grid:
    """One sensor's raw readings on its cadence grid, from its first row to its last.

    ``values[i]`` belongs to slot ``first_slot + i``; ``row[i]`` is the position in the
    input frame of the row that holds that slot, or -1 for a missing timestamp.
    """

    first_slot: int
    values: np.ndarray  # float64 (n, n_columns), NaN where missing
    row: np.ndarray  # int64 (n,)

    @property
    def observed(self) -> np.ndarray:
        """True where a value was read."""
        return np.isfinite(self.values)


@dataclass(frozen=True)
class Gap:
    """A run of ``length`` missing values in column ``column`` starting at grid row ``start``."""

    sensor: str
    column: int
    start: int
    length: int
    status: str = ""


def raw_grids(
    frame: pd.DataFrame,
    columns: Sequence[str],
    *,
    freq: str | None = None,
    time_col: str | None = None,
    sensor_col: str | None = None,
) -> tuple[str, dict[str, Grid]]:
    """Every sensor's readings on the cadence grid, NaN where missing (nothing filled).

    Args:
        frame: readings with a time column, e.g. from `pipelines.read_csv`.
        columns: the value columns, in order.
        freq: the cadence; inferred when ``None``.
        time_col, sensor_col: as in `pipelines.prepare`.

    Returns:
        ``(freq, {sensor: Grid})``, sensors sorted by id (``"0"`` for a file of one series).

    Raises:
        DataError: no time column, a missing column, or two readings in one slot.

    Example:
        >>> frame = pd.DataFrame({"ts": pd.to_datetime(["2026-01-01 00:00", "2026-01-01 01:00",
        ...     "2026-01-01 03:00"], utc=True), "a": [1.0, np.nan, 4.0]})
        >>> freq, grids = raw_grids(frame, ["a"])
        >>> freq, grids["0"].values[:, 0].tolist(), grids["0"].row.tolist()
        ('1h', [1.0, nan, nan, 4.0], [0, 1, -1, 2])
    """
    time_col, sensor_col = detect_columns(frame, time_col, sensor_col)
    if time_col is None:
        raise DataError("no time column: backfill needs one to write filled rows (reset_index() the frame)",
                        source=frame.attrs.get("source"))
    freq, readings = sensor_readings(frame, columns, freq=freq, time_col=time_col, sensor_col=sensor_col)
    return freq, {sensor: _grid(r) for sensor, r in readings.items()}


def _grid(r: SensorReadings) -> Grid:
    """A sensor's readings spread onto every slot from its first to its last."""
    n = int(r.slots[-1] - r.slots[0]) + 1
    at = r.slots - r.slots[0]
    values = np.full((n, r.values.shape[1]), np.nan)
    values[at] = r.values
    row = np.full(n, -1, dtype="int64")
    row[at] = r.rows
    return Grid(first_slot=int(r.slots[0]), values=values, row=row)


def find_gaps(sensor: str, observed: np.ndarray) -> list[Gap]:
    """Maximal runs of missing values, column by column (in column, then time order).

    Example:
        >>> seen = np.array([[1, 1], [0, 1], [0, 0], [1, 1]], dtype=bool)
        >>> [(g.column, g.start, g.length) for g in find_gaps("s", seen)]
        [(0, 1, 2), (1, 2, 1)]
    """
    gaps = []
    for column in range(observed.shape[1]):
        missing = np.concatenate([[0], (~observed[:, column]).astype("int8"), [0]])
        edges = np.diff(missing)
        starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        gaps += [Gap(sensor, column, int(a), int(b - a)) for a, b in zip(starts, stops)]
    return gaps


def classify(gap: Gap, observed: np.ndarray, spec: BackfillSpec, max_fill: int) -> Gap:
    """The gap with its status: `FILLED` (fillable), `TOO_LONG` or too little context.

    Context is counted as observed readings of the gap's column inside the window that
    the network would see (the gap centred; slots outside the series are unobserved).
    """
    if gap.length > max_fill:
        status = TOO_LONG
    else:
        lo = gap.start - spec.placement(gap.length)
        hi = lo + spec.window
        col = observed[:, gap.column]
        before = int(col[max(lo, 0) : gap.start].sum())
        after = int(col[gap.start + gap.length : max(hi, 0)].sum())
        if before < spec.min_context:
            status = NO_CONTEXT_BEFORE
        elif after < spec.min_context:
            status = NO_CONTEXT_AFTER
        else:
            status = FILLED
    return Gap(gap.sensor, gap.column, gap.start, gap.length, status)


def gap_windows(values: np.ndarray, gaps: Sequence[tuple[int, int]], spec: BackfillSpec) -> np.ndarray:
    """The ``(n, window, n_columns)`` windows centred on gaps ``(start, length)``, NaN beyond
    the series: one `pipelines.windows.gather` on the series padded with NaN.

    Example:
        >>> spec = BackfillSpec(window=5, max_fill=1, min_context=2, features=["a"])
        >>> gap_windows(np.arange(4.0).reshape(-1, 1), [(1, 1), (3, 1)], spec)[:, :, 0].tolist()
        [[nan, 0.0, 1.0, 2.0, 3.0], [1.0, 2.0, 3.0, nan, nan]]
    """
    values = np.asarray(values, dtype="float64")
    lo = np.array([start - spec.placement(length) for start, length in gaps], dtype="int64")
    before = max(0, -int(lo.min(initial=0)))
    after = max(0, int((lo + spec.window).max(initial=0)) - len(values))
    nan = np.full((1, values.shape[1]), np.nan)
    padded = np.concatenate([np.repeat(nan, before, axis=0), values, np.repeat(nan, after, axis=0)])
    return gather(padded, lo + before, spec.window)


def window_of(values: np.ndarray, start: int, length: int, spec: BackfillSpec) -> np.ndarray:
    """The ``(window, n_columns)`` slice around a gap, NaN-padded beyond the series.

    Example:
        >>> spec = BackfillSpec(window=5, max_fill=1, min_context=2, features=["a"])
        >>> window_of(np.arange(4.0).reshape(-1, 1), 1, 1, spec)[:, 0].tolist()
        [nan, 0.0, 1.0, 2.0, 3.0]
    """
    return gap_windows(values, [(start, length)], spec)[0]
