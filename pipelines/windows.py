"""The one definition of a window: `WindowSpec` and `make_windows`.

A window is ``input_steps`` consecutive rows of the features (X) followed by the next
``horizon`` rows of the targets (y). Windows never cross a block boundary (a segment cut
by a long gap, a train/validation/test split, or a change of sensor).

Every batch path cuts windows in two steps defined here and nowhere else: the start rows
(`window_starts`; per split `starts_by_label`), then one gather of the rows at `offsets`
from each start (`gather`; `cut` for the X and y of a `WindowSpec`). Training, evaluation,
backfill and the LTSF benchmark all call these; the stream path (`pipelines.stream`) is
proven equal to them by a property test.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from pipelines.checks import integer
from pipelines.errors import ForecasterError


def _names(name: str, value: object) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ForecasterError(f"`{name}` must be a list of column names. Received: {name}={value!r}")
    names = tuple(value)
    if not names or not all(isinstance(v, str) and v for v in names):
        raise ForecasterError(f"`{name}` must be non-empty column names. Received: {name}={value!r}")
    if len(set(names)) != len(names):
        raise ForecasterError(f"`{name}` has repeated names. Received: {name}={value!r}")
    return names


@dataclass(frozen=True)
class WindowSpec:
    """How series become (input, target) windows.

    Args:
        input_steps: rows of history the model sees.
        horizon: rows ahead it forecasts.
        features: input columns.
        targets: forecast columns (may overlap the features).
        stride: rows between the starts of consecutive training windows.

    Example:
        >>> spec = WindowSpec(input_steps=3, horizon=2, features=["a", "b"], targets=["b"])
        >>> spec.columns, spec.feature_index, spec.target_index
        (('a', 'b'), (0, 1), (1,))
        >>> WindowSpec(input_steps=3, horizon=0, features=["a"], targets=["a"])
        Traceback (most recent call last):
        ...
        pipelines.errors.ForecasterError: `horizon` must be a positive integer. Received: horizon=0
    """

    input_steps: int
    horizon: int
    features: tuple[str, ...] = field(default=())
    targets: tuple[str, ...] = field(default=())
    stride: int = 1

    def __post_init__(self) -> None:
        for name in ("input_steps", "horizon", "stride"):
            integer(1)(name, getattr(self, name))
        object.__setattr__(self, "features", _names("features", self.features))
        object.__setattr__(self, "targets", _names("targets", self.targets))

    @property
    def columns(self) -> tuple[str, ...]:
        """All columns a series needs: the features, then targets that are not features."""
        return self.features + tuple(t for t in self.targets if t not in self.features)

    @property
    def feature_index(self) -> tuple[int, ...]:
        """Positions of the features in `columns`."""
        return tuple(range(len(self.features)))

    @property
    def target_index(self) -> tuple[int, ...]:
        """Positions of the targets in `columns`."""
        return tuple(self.columns.index(t) for t in self.targets)

    @property
    def window_length(self) -> int:
        """Rows one training window spans: ``input_steps + horizon``."""
        return self.input_steps + self.horizon

    def to_dict(self) -> dict:
        """Plain JSON-able form."""
        return {
            "input_steps": self.input_steps,
            "horizon": self.horizon,
            "features": list(self.features),
            "targets": list(self.targets),
            "stride": self.stride,
        }

    @classmethod
    def from_dict(cls, data: dict) -> WindowSpec:
        """Inverse of `to_dict`."""
        return cls(**data)


def window_starts(blocks: np.ndarray, length: int, stride: int = 1) -> np.ndarray:
    """Start rows of all windows of ``length`` rows that lie inside one block.

    Args:
        blocks: a block id per row; a window needs one id on all its rows, and ids of
            different blocks must differ between neighbouring rows.
        length: rows per window.
        stride: keep every ``stride``-th start within each block.

    Example:
        >>> window_starts(np.array([0, 0, 0, 0, 1, 1, 1]), 3).tolist()
        [0, 1, 4]
    """
    blocks = np.asarray(blocks)
    n = len(blocks)
    if n < length:
        return np.zeros(0, dtype="int64")
    change = np.flatnonzero(np.diff(blocks) != 0) + 1
    block_start = np.zeros(n, dtype="int64")
    block_start[change] = change
    block_start = np.maximum.accumulate(block_start)
    starts = np.arange(n - length + 1)
    ok = block_start[starts] == block_start[starts + length - 1]
    ok &= (starts - block_start[starts]) % stride == 0
    return starts[ok]


def offsets(length: int, offset: int = 0) -> np.ndarray:
    """Rows of a window relative to its start row: ``offset, ..., offset + length - 1``.

    The inputs of a window that starts at row ``s`` are rows ``s + offsets(input_steps)``,
    its targets rows ``s + offsets(horizon, input_steps)``; `gather` (numpy) and
    `forecaster.nn.training.series_dataset` (in the TensorFlow graph) both cut with these.

    Example:
        >>> offsets(3).tolist(), offsets(2, 3).tolist()
        ([0, 1, 2], [3, 4])
    """
    return offset + np.arange(length, dtype="int64")


def gather(values: np.ndarray, starts: np.ndarray, length: int, offset: int = 0) -> np.ndarray:
    """``(n, length, n_columns)``: window ``i`` is rows ``[starts[i] + offset, starts[i] + offset + length)``.

    Example:
        >>> gather(np.arange(10.0).reshape(-1, 1), np.array([0, 5]), 3, offset=1)[:, :, 0].tolist()
        [[1.0, 2.0, 3.0], [6.0, 7.0, 8.0]]
    """
    starts = np.asarray(starts, dtype="int64")
    return np.asarray(values)[starts[:, None] + offsets(length, offset)[None, :]]


def cut(values: np.ndarray, starts: np.ndarray, spec: WindowSpec) -> tuple[np.ndarray, np.ndarray]:
    """The ``(X, y)`` windows of ``spec`` that start at ``starts`` (rows in `spec.columns` order).

    Example:
        >>> spec = WindowSpec(input_steps=2, horizon=1, features=["a"], targets=["a"])
        >>> X, y = cut(np.arange(6.0).reshape(-1, 1), np.array([0, 3]), spec)
        >>> X[:, :, 0].tolist(), y[:, :, 0].tolist()
        ([[0.0, 1.0], [3.0, 4.0]], [[2.0], [5.0]])
    """
    X = gather(values, starts, spec.input_steps)[:, :, list(spec.feature_index)]
    y = gather(values, starts, spec.horizon, spec.input_steps)[:, :, list(spec.target_index)]
    return X, y


def split_blocks(segment: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """One block id per row, distinct for each (segment, split label): rows of a window share it.

    Example:
        >>> split_blocks(np.array([0, 0, 0, 1, 1]), np.array([0, 0, 1, 1, 1])).tolist()
        [0, 0, 1, 3, 3]
    """
    segment = np.asarray(segment, dtype="int64")
    labels = np.asarray(labels, dtype="int64")
    return segment * (int(labels.max(initial=0)) + 1) + labels


def starts_by_label(
    segment: np.ndarray, labels: np.ndarray, length: int, stride: int = 1
) -> dict[int, np.ndarray]:
    """Start rows of the windows of ``length`` rows in each split, none crossing a segment
    or a split border.

    Returns:
        ``{label: starts}`` for every label in ``labels`` (empty where no window fits).

    Example:
        >>> starts_by_label(np.zeros(7, int), np.array([0, 0, 0, 0, 1, 1, 1]), 3)
        {0: array([0, 1]), 1: array([4])}
    """
    labels = np.asarray(labels, dtype="int64")
    starts = window_starts(split_blocks(segment, labels), length, stride)
    return {int(lab): starts[labels[starts] == lab] for lab in np.unique(labels)}


def make_windows(
    values: np.ndarray, spec: WindowSpec, blocks: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Cut one series into training windows.

    Args:
        values: ``(n_rows, len(spec.columns))`` in the order of ``spec.columns``.
        spec: the window definition.
        blocks: optional block id per row (segment, split); windows stay inside a block.

    Returns:
        ``X: (n, input_steps, n_features)`` and ``y: (n, horizon, n_targets)``.
        Window ``i`` (stride 1, one block) takes X from rows ``[i, i + input_steps)`` and
        y from rows ``[i + input_steps, i + input_steps + horizon)``.

    Example:
        >>> spec = WindowSpec(input_steps=3, horizon=2, features=["a"], targets=["a"])
        >>> X, y = make_windows(np.arange(8.0).reshape(-1, 1), spec)
        >>> X.shape, y.shape
        ((4, 3, 1), (4, 2, 1))
        >>> X[0, :, 0].tolist(), y[0, :, 0].tolist()   # rows 0-2 -> rows 3-4
        ([0.0, 1.0, 2.0], [3.0, 4.0])
        >>> X[1, :, 0].tolist(), y[1, :, 0].tolist()   # rows 1-3 -> rows 4-5
        ([1.0, 2.0, 3.0], [4.0, 5.0])
    """
    values = _checked(values, spec)
    blocks = np.zeros(len(values), dtype="int64") if blocks is None else np.asarray(blocks)
    return cut(values, window_starts(blocks, spec.window_length, spec.stride), spec)


def input_windows(values: np.ndarray, spec: WindowSpec, blocks: np.ndarray | None = None) -> np.ndarray:
    """Every window of ``input_steps`` feature rows (no target needed): what a live
    forecaster sees after each row. Same block rules as `make_windows`.

    Example:
        >>> spec = WindowSpec(input_steps=2, horizon=1, features=["a"], targets=["a"])
        >>> input_windows(np.arange(3.0).reshape(-1, 1), spec)[:, :, 0].tolist()
        [[0.0, 1.0], [1.0, 2.0]]
    """
    values = np.asarray(values)
    blocks = np.zeros(len(values), dtype="int64") if blocks is None else np.asarray(blocks)
    return gather(values, window_starts(blocks, spec.input_steps), spec.input_steps)[:, :, list(spec.feature_index)]


def windows_by_block_label(
    values: np.ndarray, spec: WindowSpec, segment: np.ndarray, labels: np.ndarray
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Training windows of one series grouped by split label.

    Rows are grouped into blocks by (segment, label); no window crosses either.

    Returns:
        ``{label: (X, y)}`` for every label in ``labels`` (empty arrays where none fit).
    """
    values = _checked(values, spec)
    starts = starts_by_label(segment, labels, spec.window_length, spec.stride)
    return {label: cut(values, s, spec) for label, s in starts.items()}


def _checked(values: np.ndarray, spec: WindowSpec) -> np.ndarray:
    values = np.asarray(values)
    if values.ndim != 2 or values.shape[1] != len(spec.columns):
        raise ForecasterError(
            f"values must have shape (rows, {len(spec.columns)}) for columns {spec.columns}. "
            f"Received: shape={values.shape}"
        )
    return values
