"""The online window: readings pushed one at a time give the same windows as the batch path.

`RollingWindow` applies the rules of `pipelines.regular` incrementally: readings go onto the
cadence grid, short gaps are interpolated with the same expression, a long gap resets the
window, and a reading that is not newer than the last is refused without touching state.
A reading with a missing (non-finite) value is a missing row, as in `pipelines.regular`: it
changes nothing, and the gap it leaves is measured between the complete readings around it.

With an ``aggregate`` rule (`pipelines.readings.AGGREGATES`, as ``--aggregate``), several
readings of one slot are held as the *pending* slot and combined by
`pipelines.readings.aggregate_slots` (the batch path's one rule, so the row is bit for bit
the batch row) when the slot is final: when a reading of a later slot arrives, or when
`RollingWindow.finalize_due` is called at least ``grace_ns`` after the slot's end.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator

import numpy as np
import pandas as pd

from pipelines.errors import ForecasterError, StaleReading
from pipelines.readings import ERROR, aggregate_slots, check_aggregate
from pipelines.regular import interpolate_step

MAX_PENDING = 4096
"""Readings held for one slot of one sensor; more in that slot are refused (memory bound)."""


class RollingWindow:
    """The last ``length`` regular rows of one sensor.

    Args:
        length: rows per window (a forecaster's ``input_steps``).
        n_columns: values per row.
        step_ns: the cadence in nanoseconds.
        max_gap: the longest run of missing slots that is interpolated; longer resets.
        aggregate: how several readings of one slot become one row (`AGGREGATES`); None
            (or ``error``): a second reading in a slot is refused as a duplicate.
        grace_ns: with ``aggregate``, how long after a slot's end `finalize_due` finalises
            it; None: never (only a reading of a later slot does).

    Example:
        >>> w = RollingWindow(length=2, n_columns=1, step_ns=10, max_gap=1)
        >>> [len(w.push(t, [float(t)])) for t in (0, 10, 30, 70)]   # 30: fills 20; 70: reset
        [0, 1, 2, 0]
        >>> w.push(80, [8.0])[0][:, 0].tolist()
        [70.0, 8.0]
        >>> m = RollingWindow(length=1, n_columns=1, step_ns=10, max_gap=0, aggregate="mean", grace_ns=5)
        >>> m.push(0, [1.0]), m.push(4, [2.0]), m.finalize_due(14), m.finalize_due(15)[0].tolist()
        ([], [], [], [[1.5]])
    """

    def __init__(
        self, *, length: int, n_columns: int, step_ns: int, max_gap: int,
        aggregate: str | None = None, grace_ns: int | None = None,
    ) -> None:
        how = check_aggregate(aggregate)
        self.aggregate = None if how == ERROR else how
        self.grace_ns = grace_ns
        self.length = length
        self.n_columns = n_columns
        self.step_ns = step_ns
        self.max_gap = max_gap
        self._buffer = np.empty((2 * length, n_columns), dtype="float64")
        self._end = 0  # rows [self._end - self._count, self._end) are the current segment tail
        self._count = 0
        self.last_slot: int | None = None  # the slot of the newest complete row
        self.last_ns: int | None = None  # the time of the reading that made it (None: unknown)
        self.final_slot: int | None = None  # with aggregate: the newest slot finalised
        self.pending_slot: int | None = None  # with aggregate: the slot being collected
        self._pending: list[tuple[int, np.ndarray]] = []  # its readings (ns, row), arrival order
        self._pending_ns: set[int] = set()  # their times, to recognise a redelivery quickly

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
                row: it completes no window and leaves the state as it is. With
                ``aggregate`` the reading joins its slot's pending readings (its missing
                cells skipped); a reading of a later slot finalises the pending slot first.

        Raises:
            StaleReading: the reading's slot is not after the last one (``kind`` says duplicate
                or out of order); with ``aggregate``: a slot before the pending one, a slot
                already final, or a repeat (same time and values) of a pending reading.
            ForecasterError: wrong number of values; more than `MAX_PENDING` in one slot.
        """
        row = np.asarray(values, dtype="float64")
        if row.shape != (self.n_columns,):
            raise ForecasterError(f"expected {self.n_columns} values, got shape {row.shape}")
        ns = ts.value if isinstance(ts, pd.Timestamp) else int(ts)
        slot = ns // self.step_ns
        if self.aggregate is not None:
            return self._collect(slot, ns, row)
        if self.last_slot is not None and slot <= self.last_slot:
            if slot == self.last_slot:
                raise StaleReading(
                    f"duplicate reading: slot {slot} is not after {self.last_slot} "
                    "(several readings per slot: --aggregate mean|last|first|min|max|sum)",
                    kind="duplicate",
                )
            raise StaleReading(f"out-of-order reading: slot {slot} is not after {self.last_slot}", kind="out_of_order")
        windows = self._advance(slot, row)
        if self.last_slot == slot:
            self.last_ns = ns
        return windows

    def holds(self, ts: pd.Timestamp | int, values: np.ndarray | list[float]) -> bool:
        """True when the window already holds exactly this reading (same slot, same values):
        a redelivered message, whose effect is already in the state.

        Example:
            >>> w = RollingWindow(length=3, n_columns=1, step_ns=10, max_gap=0)
            >>> _ = w.push(0, [1.0]), w.push(10, [2.0])
            >>> w.holds(3, [1.0]), w.holds(0, [1.5]), w.holds(20, [3.0])
            (True, False, False)
        """
        ns = ts.value if isinstance(ts, pd.Timestamp) else int(ts)
        slot = ns // self.step_ns
        row = np.asarray(values, dtype="float64")
        if self.pending_slot == slot:
            return any(t == ns and np.array_equal(r, row, equal_nan=True) for t, r in self._pending)
        if self.last_slot is None or slot > self.last_slot or self.last_slot - slot >= min(self._count, self.length):
            return False
        if slot == self.last_slot and self.last_ns is not None and ns != self.last_ns:
            return False  # another reading of the same slot, not this one again
        return bool(np.array_equal(self._buffer[self._end - 1 - (self.last_slot - slot)], row))

    def spans(self, ts: pd.Timestamp | int) -> bool:
        """True when the reading's slot lies within the rows the window holds (so `holds` can
        tell whether this very reading is there).

        Example:
            >>> w = RollingWindow(length=3, n_columns=1, step_ns=10, max_gap=0)
            >>> _ = w.push(0, [1.0]), w.push(10, [2.0])
            >>> w.spans(0), w.spans(10), w.spans(20), w.spans(-10)
            (True, True, False, False)
        """
        ns = ts.value if isinstance(ts, pd.Timestamp) else int(ts)
        slot = ns // self.step_ns
        if slot == self.pending_slot:
            return True
        return self.last_slot is not None and 0 <= self.last_slot - slot < min(self._count, self.length)

    def _advance(self, slot: int, row: np.ndarray) -> list[np.ndarray]:
        """The row of a slot after the last: interpolate a short gap, reset after a long one."""
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

    def _collect(self, slot: int, ns: int, row: np.ndarray) -> list[np.ndarray]:
        """With ``aggregate``: hold the reading in the pending slot (finalising an older one)."""
        pending = self.pending_slot
        if pending is not None and slot < pending:
            raise StaleReading(f"out-of-order reading: slot {slot} is before the pending slot {pending}", kind="out_of_order")
        if pending is None:
            newest = max((s for s in (self.last_slot, self.final_slot) if s is not None), default=None)
            if newest is not None and slot <= newest:
                kind = "duplicate" if slot == newest else "out_of_order"
                raise StaleReading(f"{kind.replace('_', '-')} reading: slot {slot} is already final (newest {newest})", kind=kind)
        elif slot == pending:
            if ns in self._pending_ns and any(t == ns and np.array_equal(r, row, equal_nan=True) for t, r in self._pending):
                raise StaleReading(f"duplicate reading: the same reading again in pending slot {slot}", kind="duplicate")
            if len(self._pending) >= MAX_PENDING:
                raise ForecasterError(f"more than {MAX_PENDING} readings in slot {slot}; choose a finer cadence")
            self._pending.append((ns, row))
            self._pending_ns.add(ns)
            return []
        windows = self._finalize() if pending is not None else []
        self.pending_slot, self._pending, self._pending_ns = slot, [(ns, row)], {ns}
        return windows

    def finalize_due(self, now_ns: int) -> list[np.ndarray]:
        """Finalise the pending slot if ``grace_ns`` has passed since its end at ``now_ns``
        (the daemon's clock, ns since the epoch); the windows that completes."""
        if self.pending_slot is None or self.grace_ns is None:
            return []
        if now_ns < (self.pending_slot + 1) * self.step_ns + self.grace_ns:
            return []
        return self._finalize()

    def _finalize(self) -> list[np.ndarray]:
        """Combine the pending readings (in time order, as the batch path sorts them) into the
        slot's row and push it."""
        slot, pending = self.pending_slot, sorted(self._pending, key=lambda item: item[0])
        self.pending_slot, self._pending, self._pending_ns = None, [], set()
        self.final_slot = slot
        values = np.stack([r for _, r in pending])
        _, combined = aggregate_slots(np.full(len(pending), slot, dtype="int64"), values, self.aggregate)
        return self._advance(slot, combined[0])

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

    def to_dict(self, *, arrays: bool = False) -> dict:
        """The state as plain JSON-able data (for a state file); ``arrays``: the rows as a copy of
        the array (fast; the caller encodes them) instead of nested lists."""
        n = min(self._count, self.length)
        rows = self._buffer[self._end - n : self._end]
        state = {"last_slot": self.last_slot, "rows": rows.copy() if arrays else rows.tolist()}
        if self.final_slot is not None:
            state["final_slot"] = self.final_slot
        if self.pending_slot is not None:  # missing cells as null: JSON has no NaN
            state["pending_slot"] = self.pending_slot
            state["pending"] = [[t, [None if np.isnan(v) else v for v in r.tolist()]] for t, r in self._pending]
        return state

    def restore(self, state: dict) -> int:
        """Load a state written by `to_dict` (same length and columns); how many pending
        readings were dropped (a state with some, loaded without ``aggregate``)."""
        rows = np.asarray(state["rows"], dtype="float64").reshape(-1, self.n_columns)[-self.length :]
        self._buffer[: len(rows)] = rows
        self._end = self._count = len(rows)
        self.last_slot = state["last_slot"]
        self.final_slot = state.get("final_slot")
        pending = [(int(t), np.array(r, dtype="float64").reshape(self.n_columns)) for t, r in state.get("pending", [])]
        if self.aggregate is None or not pending:
            return len(pending)
        self.pending_slot, self._pending = int(state["pending_slot"]), pending
        self._pending_ns = {t for t, _ in pending}
        return 0


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
        self, *, length: int, n_columns: int, step_ns: int, max_gap: int, max_sensors: int = 10_000,
        aggregate: str | None = None, grace_ns: int | None = None,
    ) -> None:
        self._args = {"length": length, "n_columns": n_columns, "step_ns": step_ns, "max_gap": max_gap,
                      "aggregate": aggregate, "grace_ns": grace_ns}
        how = check_aggregate(aggregate)
        self.aggregate = None if how == ERROR else how
        self.max_sensors = max_sensors
        self._windows: OrderedDict[str, RollingWindow] = OrderedDict()
        self.evicted = 0
        self.last_evicted: str | None = None  # the id of the last sensor evicted

    def get(self, sensor: str) -> RollingWindow:
        """The sensor's window, created on first use; marks it most recently used."""
        window = self._windows.get(sensor)
        if window is None:
            window = self._windows[sensor] = RollingWindow(**self._args)
            while len(self._windows) > self.max_sensors:
                self.last_evicted, _ = self._windows.popitem(last=False)
                self.evicted += 1
        else:
            self._windows.move_to_end(sensor)
        return window

    def empty_like(self) -> WindowRegistry:
        """A registry with the same settings and no windows."""
        return WindowRegistry(**self._args, max_sensors=self.max_sensors)

    def adopt(self, other: WindowRegistry) -> None:
        """Take ``other``'s windows in place of this registry's (a restore staged elsewhere, so
        that a failure leaves this one untouched)."""
        self._windows = other._windows

    @property
    def settings(self) -> dict:
        """The window settings every sensor's window is made with (``length``, ``n_columns``,
        ``step_ns``, ``max_gap``, ``aggregate``, ``grace_ns``)."""
        return dict(self._args)

    def __iter__(self) -> Iterator[str]:
        return iter(self._windows)

    def __len__(self) -> int:
        return len(self._windows)

    def finalize_due(self, now_ns: int) -> dict[str, list[np.ndarray]]:
        """`RollingWindow.finalize_due` of every sensor with a pending slot: the windows
        completed, by sensor (only sensors with some). Does not change the LRU order."""
        if self.aggregate is None:
            return {}
        done = {}
        for sensor, window in self._windows.items():
            if window.pending_slot is not None:
                completed = window.finalize_due(now_ns)
                if completed:
                    done[sensor] = completed
        return done

    def to_dict(self, *, arrays: bool = False) -> dict:
        """All windows' states by sensor (`RollingWindow.to_dict`)."""
        return {sensor: w.to_dict(arrays=arrays) for sensor, w in self._windows.items()}

    def restore(self, states: dict) -> int:
        """Load states written by `to_dict`; how many pending readings were dropped (saved
        with an aggregate rule, loaded without one)."""
        return sum(self.get(sensor).restore(state) for sensor, state in states.items())
