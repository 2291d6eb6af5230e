"""A fleet's scaled series in one float32 array, with its windows as start rows into it.

A window of ``L`` rows overlaps its neighbour by ``L - 1`` rows: holding every window costs
``L`` times the data (about 110 MB per sensor-year hourly at 96 x 7 in float64, float32
and `tf.data` copies). Training, validation and testing need only the rows, once, and one
start index per window. Sensors are laid end to end and every start is global (the
sensor's first row plus its start within the sensor, from `starts_by_label`), so no window
crosses a sensor, a gap or a split. Windows are cut from the array with the one rule of
`pipelines.windows` (`gather` and `cut` in numpy; `forecaster.nn.training.series_dataset`
with the same `offsets` in TensorFlow), a batch at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from pipelines.windows import starts_by_label

CHUNK = 4096  # windows cut at a time when a whole split is scored


@dataclass(frozen=True)
class FleetSeries:
    """Every sensor's scaled rows end to end and the start rows of each split's windows.

    Attributes:
        values: ``(rows, columns)`` float32, sensor after sensor.
        starts: ``{split label: global start rows}`` (int64, in sensor order, then time order).
        length: the rows one window spans.
        firsts: the first row of each sensor, in order.
        names: the sensors' ids, in order (empty when not given).

    Example:
        >>> fleet = stack_series([(np.zeros((5, 1)), np.zeros(5, int), np.zeros(5, int)),
        ...                       (np.ones((4, 1)), np.zeros(4, int), np.array([0, 0, 1, 1]))], length=2)
        >>> fleet.starts[0].tolist(), fleet.starts[1].tolist(), fleet.values.dtype
        ([0, 1, 2, 3, 5], [7], dtype('float32'))
    """

    values: np.ndarray
    starts: dict[int, np.ndarray]
    length: int
    firsts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype="int64"))
    names: tuple = ()

    def sensors_of(self, starts: np.ndarray) -> np.ndarray:
        """The id (from ``names``) of the sensor whose rows each start row falls in."""
        return np.asarray(self.names, dtype=object)[np.searchsorted(self.firsts, starts, side="right") - 1]

    def count(self, label: int) -> int:
        """How many windows split ``label`` has."""
        return len(self.of(label))

    def of(self, label: int) -> np.ndarray:
        """The start rows of split ``label`` (empty when it has none)."""
        return self.starts.get(label, np.zeros(0, dtype="int64"))

    def chunks(self, label: int, size: int = CHUNK) -> Iterator[np.ndarray]:
        """The start rows of split ``label`` in consecutive pieces of at most ``size``."""
        starts = self.of(label)
        for at in range(0, len(starts), size):
            yield starts[at : at + size]


def stack_series(
    parts: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]], *, length: int, stride: int = 1,
    names: tuple = (),
) -> FleetSeries:
    """One `FleetSeries` from each sensor's ``(scaled values, segment, split labels)``.

    Args:
        parts: per sensor, its scaled rows ``(rows, columns)`` and a segment id and split
            label per row (a generator keeps one sensor's float64 rows alive at a time).
        length: rows per window.
        stride: keep every ``stride``-th start within a block.
        names: the sensors' ids in the order of ``parts`` (for `FleetSeries.sensors_of`).

    Returns:
        The rows as one float32 array; window starts in the order of ``parts``, so windows
        come in the order the old per-sensor concatenation gave.
    """
    pieces: list[np.ndarray] = []
    found: dict[int, list[np.ndarray]] = {}
    offset = 0
    firsts: list[int] = []
    for values, segment, labels in parts:
        firsts.append(offset)
        pieces.append(np.asarray(values, dtype="float32"))
        for label, starts in starts_by_label(segment, labels, length, stride).items():
            found.setdefault(label, []).append(starts + offset)
        offset += len(values)
    width = pieces[0].shape[1] if pieces else 0
    values = np.concatenate(pieces) if pieces else np.zeros((0, width), dtype="float32")
    starts = {label: np.concatenate(items).astype("int64") for label, items in found.items()}
    return FleetSeries(values=values, starts=starts, length=length, firsts=np.asarray(firsts, dtype="int64"),
                       names=tuple(names))
