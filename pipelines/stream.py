"""The online window: readings pushed one at a time give the same windows as the batch path.

`RollingWindow` applies the rules of `pipelines.regular` incrementally: readings go onto the
cadence grid, short gaps are interpolated with the same expression, a long gap resets the
window, and a reading that is not newer than the last is refused without touching state.
A reading with a missing (non-finite) value is a missing row, as in `pipelines.regular`: it
changes nothing, and the gap it leaves is measured between the complete readings around it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator

import numpy as np
import pandas as pd

from pipelines.errors import ForecasterError, StaleReading
from pipelines.regular import interpolate_step


class RollingWindow:
    """The last ``length`` regular rows of one sensor.

    Args:
        length: rows per window (a forecaster's ``input_steps``).
        n_columns: values per row.
        step_ns: the cadence in nanoseconds.
        max_gap: the longest run of missing slots that is interpolated; longer resets.

    Example:
        >>> w = RollingWindow(length=2, n_columns=1, step_ns=10, max_gap=1)
        >>> [len(w.push(t, [float(t)])) for t in (0, 10, 30, 70)]   # 30: fills 20; 70: reset
        [0, 1, 2, 0]
        >>> w.push(80, [8.0])[0][:, 0].tolist()
        [70.0, 8.0]
    """

    def __init__(self, *, length: int, n_columns: int, step_ns: int, max_gap: int) -> None:
        self.length = length
        self.n_columns = n_columns
        self.step_ns = step_ns
        self.max_gap = max_gap
        self._buffer = np.empty((2 * length, n_columns), dtype="float64")
        self._end = 0  # rows [self._end - self._count, self._end) are the current segment tail
        self._count = 0
        self.last_slot: int | None = None

    @property
    def ready(self) -> bool:
        """True once the current segment holds a full window."""
        return self._count >= self.length

    def window(self) -> np.ndarray:
        """A copy of the current window ``(length, n_columns)``."""
        if not self.ready:
            raise ForecasterError(f"window not full: {self._count} of {self.length} rows")
        return self._buffer[self._end - self.length : self._end].copy()

    def push(self, ts: pd.Timestamp | int, values: np.ndarray | list[float]) -> list[np.ndarray]:
        """Add one reading; return the windows it completes (oldest first).

        Args:
            ts: a UTC timestamp, or nanoseconds since the epoch.
            values: one value per column; a row with a NaN (a missing value) is a missing
                row: it completes no window and leaves the state as it is.

        Raises:
            StaleReading: the reading's slot is not after the last one (``kind`` says duplicate
                or out of order).
            ForecasterError: wrong number of values.
        """
        row = np.asarray(values, dtype="float64")
        if row.shape != (self.n_columns,):
            raise ForecasterError(f"expected {self.n_columns} values, got shape {row.shape}")
        slot = (ts.value if isinstance(ts, pd.Timestamp) else int(ts)) // self.step_ns
        if self.last_slot is not None and slot <= self.last_slot:
            if slot == self.last_slot:
                raise StaleReading(f"duplicate reading: slot {slot} is not after {self.last_slot}", kind="duplicate")
            raise StaleReading(f"out-of-order reading: slot {slot} is not after {self.last_slot}", kind="out_of_order")
        if not np.isfinite(row).all():
            return []  # regularize drops such a row; the gap is measured from the last complete one
        windows: list[np.ndarray] = []
        if self.last_slot is not None:
            gap = slot - self.last_slot - 1
            if gap > self.max_gap:
                self._count = 0
            elif gap > 0:
                left = self._buffer[self._end - 1].copy()
                for k in range(1, gap + 1):
                    self._append(interpolate_step(left, row, k, gap), windows)
        self._append(row, windows)
        self.last_slot = slot
        return windows

    def _append(self, row: np.ndarray, windows: list[np.ndarray]) -> None:
        if self._end == len(self._buffer):
            keep = min(self._count, self.length - 1)
            self._buffer[:keep] = self._buffer[self._end - keep : self._end]
            self._end = keep
            self._count = keep
        self._buffer[self._end] = row
        self._end += 1
        self._count += 1
        if self._count >= self.length:
            windows.append(self._buffer[self._end - self.length : self._end].copy())

    def to_dict(self) -> dict:
        """The state as plain JSON-able data (for a state file)."""
        n = min(self._count, self.length)
        return {
            "last_slot": self.last_slot,
            "rows": self._buffer[self._end - n : self._end].tolist(),
        }

    def restore(self, state: dict) -> None:
        """Load a state written by `to_dict` (same length and columns)."""
        rows = np.asarray(state["rows"], dtype="float64").reshape(-1, self.n_columns)[-self.length :]
        self._buffer[: len(rows)] = rows
        self._end = self._count = len(rows)
        self.last_slot = state["last_slot"]


class WindowRegistry:
    """One `RollingWindow` per sensor, at most ``max_sensors`` (least recently updated evicted).

    Example:
        >>> reg = WindowRegistry(length=1, n_columns=1, step_ns=1, max_gap=0, max_sensors=2)
        >>> for s in ("a", "b", "c"):
        ...     _ = reg.get(s)
        >>> list(reg), reg.evicted
        (['b', 'c'], 1)
    """

    def __init__(
        self, *, length: int, n_columns: int, step_ns: int, max_gap: int, max_sensors: int = 10_000
    ) -> None:
        self._args = {"length": length, "n_columns": n_columns, "step_ns": step_ns, "max_gap": max_gap}
        self.max_sensors = max_sensors
        self._windows: OrderedDict[str, RollingWindow] = OrderedDict()
        self.evicted = 0

    def get(self, sensor: str) -> RollingWindow:
        """The sensor's window, created on first use; marks it most recently used."""
        window = self._windows.get(sensor)
        if window is None:
            window = self._windows[sensor] = RollingWindow(**self._args)
            while len(self._windows) > self.max_sensors:
                self._windows.popitem(last=False)
                self.evicted += 1
        else:
            self._windows.move_to_end(sensor)
        return window

    def __iter__(self) -> Iterator[str]:
        return iter(self._windows)

    def __len__(self) -> int:
        return len(self._windows)

    def to_dict(self) -> dict:
        """All windows' states by sensor."""
        return {sensor: w.to_dict() for sensor, w in self._windows.items()}

    def restore(self, states: dict) -> None:
        """Load states written by `to_dict`."""
        for sensor, state in states.items():
            self.get(sensor).restore(state)
