"""What a backfill network sees: windows with gaps, pre-filled by straight lines, and a mask.

The network input is ``(n, window, 2 * n_columns)``: the values with every unobserved
point replaced by linear interpolation between its column's nearest observed neighbours in
the window (held flat at the edges) and taken relative to the window's level (the mean of
its observed values), then a 0/1 channel per column marking what was observed. The network
only learns a correction to those straight lines.

Training masks are synthetic gaps cut out of complete, real windows: one gap of random
length centred like a real gap (`BackfillSpec.placement`), sometimes a second gap and
sometimes an unobserved edge, each on all columns or on a random subset.
"""

from __future__ import annotations

import numpy as np

from pipelines.gaps import BackfillSpec


def linear_fill(values: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """Fill unobserved points of ``(..., steps, columns)`` by linear interpolation along steps.

    Points before the first (after the last) observed point take its value; a column with
    nothing observed becomes 0 (the mean, in scaled units).

    Example:
        >>> v = np.array([[1.0], [np.nan], [np.nan], [4.0], [np.nan]])
        >>> linear_fill(v, np.isfinite(v))[:, 0].tolist()
        [1.0, 2.0, 3.0, 4.0, 4.0]
    """
    values = np.asarray(values, dtype="float64")
    observed = np.asarray(observed, dtype=bool)
    steps = values.shape[-2]
    pos = np.arange(steps).reshape((steps, 1))
    pos = np.broadcast_to(pos, values.shape)
    prev = np.maximum.accumulate(np.where(observed, pos, -1), axis=-2)
    nxt = np.flip(np.minimum.accumulate(np.flip(np.where(observed, pos, steps), axis=-2), axis=-2), axis=-2)
    has_prev, has_next = prev >= 0, nxt < steps
    safe = np.where(observed, values, 0.0)
    left = np.take_along_axis(safe, np.clip(prev, 0, steps - 1), axis=-2)
    right = np.take_along_axis(safe, np.clip(nxt, 0, steps - 1), axis=-2)
    span = np.where(nxt > prev, nxt - prev, 1)
    between = left + (right - left) * ((pos - prev) / span)
    out = np.where(has_prev & has_next, between, np.where(has_prev, left, np.where(has_next, right, 0.0)))
    return np.where(observed, values, out)


def network_input(values: np.ndarray, observed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What the network sees, relative to each window's level, and that level.

    Args:
        values: ``(n, window, columns)`` scaled values (whatever is not observed is ignored).
        observed: the same shape, True where a value was read.

    Returns:
        ``x``: ``(n, window, 2 * columns)`` float32, the straight-line pre-fill minus the
        level, then the observed mask; ``level``: ``(n, 1, columns)``, the mean of each
        window's observed values per column (0 where none). The network works on the shape
        of the window, not on its level (like the forecaster's last-value residual), so a
        level shift between training and later data does not bias its estimates; add
        ``level`` back to its output.

    Example:
        >>> v = np.array([[[1.0], [9.0], [3.0]]])
        >>> x, level = network_input(v, np.array([[[True], [False], [True]]]))
        >>> x[0].tolist(), level.ravel().tolist()
        ([[-1.0, 1.0], [0.0, 0.0], [1.0, 1.0]], [2.0])
    """
    observed = np.asarray(observed, dtype=bool)
    filled = linear_fill(np.where(observed, values, np.nan), observed)
    count = observed.sum(axis=-2, keepdims=True)
    level = np.where(observed, filled, 0.0).sum(axis=-2, keepdims=True) / np.maximum(count, 1)
    x = np.concatenate([filled - level, observed.astype("float64")], axis=-1).astype("float32")
    return x, level


def synthetic_gaps(rng: np.random.Generator, n: int, n_columns: int, spec: BackfillSpec) -> np.ndarray:
    """Observed masks ``(n, window, n_columns)`` with random gaps to train on.

    Each window gets one gap of 1 to ``max_fill`` slots, centred as at fill time, on all
    columns (half the time) or a random non-empty subset; a quarter of the windows also get
    a second gap anywhere, and a tenth an unobserved start or end (data beyond the series).

    Example:
        >>> spec = BackfillSpec(window=12, max_fill=4, min_context=2, features=["a", "b"])
        >>> m = synthetic_gaps(np.random.default_rng(0), 3, 2, spec)
        >>> m.shape, bool((~m).any(axis=(1, 2)).all())
        ((3, 12, 2), True)
    """
    W = spec.window
    observed = np.ones((n, W, n_columns), dtype=bool)

    def columns() -> np.ndarray:
        if n_columns == 1 or rng.random() < 0.5:
            return np.ones(n_columns, dtype=bool)
        chosen = rng.random(n_columns) < 0.5
        chosen[rng.integers(n_columns)] = True
        return chosen

    for i in range(n):
        length = int(rng.integers(1, spec.max_fill + 1))
        start = spec.placement(length)
        observed[i, start : start + length, columns()] = False
        if rng.random() < 0.25:
            extra = int(rng.integers(1, spec.max_fill + 1))
            at = int(rng.integers(0, W - extra + 1))
            observed[i, at : at + extra, columns()] = False
        if rng.random() < 0.1:
            room = max(spec.placement(length) - spec.min_context, 1)
            edge = int(rng.integers(1, room + 1))
            if rng.random() < 0.5:
                observed[i, :edge] = False
            else:
                observed[i, W - edge :] = False
    return observed
