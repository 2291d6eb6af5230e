"""Put one sensor's readings on a fixed cadence, interpolating short gaps and cutting long ones.

The rules (shared with the streaming path in `pipelines.stream`):

- a reading belongs to the slot ``floor(ts / step)``; two readings in one slot are an error;
- a row with any non-finite value counts as missing;
- a run of up to ``max_gap`` missing slots between two readings is filled by linear
  interpolation; a longer run cuts the series into segments;
- missing slots before the first or after the last complete reading are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class GapReport:
    """What regularization did to one series."""

    rows_in: int
    incomplete_rows: int
    interpolated_slots: int
    interpolated_gaps: int
    cut_gaps: list[tuple[int, int]] = field(default_factory=list)  # (first missing slot, length)

    @property
    def segments(self) -> int:
        """How many segments the series was cut into."""
        return len(self.cut_gaps) + 1 if self.rows_in > self.incomplete_rows else 0


@dataclass(frozen=True)
class RegularSeries:
    """One sensor on its cadence grid: ``values[i]`` belongs to slot ``slots[i]``."""

    slots: np.ndarray  # int64, strictly increasing
    values: np.ndarray  # float64 (n, n_columns), all finite
    segment: np.ndarray  # int64 segment id of each row, non-decreasing from 0
    interpolated: np.ndarray  # bool, True where the row was filled in
    report: GapReport

    def segment_bounds(self) -> list[tuple[int, int]]:
        """``[start, stop)`` row ranges of the segments, in order."""
        if len(self.slots) == 0:
            return []
        cuts = np.flatnonzero(np.diff(self.segment)) + 1
        starts = np.concatenate([[0], cuts])
        stops = np.concatenate([cuts, [len(self.slots)]])
        return [(int(a), int(b)) for a, b in zip(starts, stops)]

    def last_segment(self) -> slice:
        """The rows of the most recent segment."""
        bounds = self.segment_bounds()
        return slice(*bounds[-1]) if bounds else slice(0, 0)


def interpolate_step(left: np.ndarray, right: np.ndarray, k: int, gap: int) -> np.ndarray:
    """The value ``k`` slots after ``left`` in a gap of ``gap`` missing slots before ``right``.

    Batch and stream both call this exact expression, so they agree to the last bit.

    Example:
        >>> interpolate_step(np.array([0.0]), np.array([4.0]), 1, 3)
        array([1.])
    """
    return left + (right - left) * (k / (gap + 1))


def regularize(slots: np.ndarray, values: np.ndarray, max_gap: int) -> RegularSeries:
    """Regularize readings that are already sorted by slot with no slot repeated.

    Args:
        slots: int64 slot index of each reading, strictly increasing.
        values: float64 ``(n, n_columns)``; rows with any NaN count as missing.
        max_gap: the longest run of missing slots that is interpolated.

    Returns:
        The series on its grid with segment ids and an interpolation mask.

    Example:
        >>> s = regularize(np.array([0, 1, 3, 9]), np.array([[0.], [1.], [3.], [9.]]), 1)
        >>> s.slots.tolist(), s.values[:, 0].tolist(), s.segment.tolist()
        ([0, 1, 2, 3, 9], [0.0, 1.0, 2.0, 3.0, 9.0], [0, 0, 0, 0, 1])
    """
    slots = np.asarray(slots, dtype="int64")
    values = np.asarray(values, dtype="float64")
    complete = np.isfinite(values).all(axis=1)
    rows_in, incomplete = len(slots), int((~complete).sum())
    slots, values = slots[complete], values[complete]
    n = len(slots)
    if n == 0:
        empty = np.zeros(0, dtype="int64")
        return RegularSeries(
            empty, values.reshape(0, values.shape[1]), empty, np.zeros(0, bool),
            GapReport(rows_in, incomplete, 0, 0),
        )
    gaps = np.diff(slots) - 1
    fill = np.where(gaps <= max_gap, gaps, 0)
    fill_after = np.append(fill, 0)  # missing slots filled after each reading
    counts = 1 + fill_after
    anchor = np.repeat(np.arange(n), counts)
    first_out = np.cumsum(counts) - counts
    k = np.arange(int(counts.sum())) - np.repeat(first_out, counts)
    right = np.minimum(anchor + 1, n - 1)
    out = values[anchor].copy()
    filled = k > 0
    if filled.any():
        out[filled] = interpolate_step(
            values[anchor[filled]],
            values[right[filled]],
            k[filled][:, None],
            fill_after[anchor[filled]][:, None],
        )
    breaks = np.concatenate([[0], np.cumsum(gaps > max_gap)])
    cut = [(int(slots[i]) + 1, int(gaps[i])) for i in np.flatnonzero(gaps > max_gap)]
    report = GapReport(
        rows_in=rows_in,
        incomplete_rows=incomplete,
        interpolated_slots=int(fill.sum()),
        interpolated_gaps=int((fill > 0).sum()),
        cut_gaps=cut,
    )
    return RegularSeries(slots[anchor] + k, out, breaks[anchor], filled, report)
