"""Windows from readings kept by slot (a shared store such as Redis): `RollingWindow`'s rules,
applied to the held readings in slot order, whatever order they arrived in."""

from __future__ import annotations

import numpy as np

from pipelines.stream import RollingWindow


def windows_at(slots: np.ndarray, rows: np.ndarray, lo: int, hi: int, *, length: int,
               max_gap: int) -> list[tuple[int, np.ndarray]]:
    """The window ending at each held slot in ``lo..hi``, where the readings make one.

    The readings are pushed into a fresh `RollingWindow` in slot order: short gaps are
    interpolated and a long gap starts a new segment exactly as on the stream and batch paths,
    so each window is bit for bit the one `RollingWindow` gives for the same readings (when no
    slot is missing in any wanted window, its rows are taken as they are: the same values).

    Args:
        slots: ascending slots of the held readings (from at least ``length + max_gap`` slots
            before ``lo``, so that the first window is whole).
        rows: their values, ``(len(slots), n_columns)``, all finite.
        lo, hi: the slots whose windows are wanted.
        length: rows per window; max_gap: the longest run of missing slots interpolated.

    Returns:
        ``(slot, window)`` pairs in slot order; a slot without a whole window is left out.

    Example:
        >>> rows = np.array([[1.0], [2.0], [4.0], [5.0]])
        >>> [(s, w[:, 0].tolist()) for s, w in windows_at(np.array([0, 1, 3, 4]), rows, 1, 4, length=3, max_gap=1)]
        [(3, [2.0, 3.0, 4.0]), (4, [3.0, 4.0, 5.0])]
    """
    first = int(np.searchsorted(slots, lo))
    wanted = slots[first : np.searchsorted(slots, hi, side="right")]
    starts = np.arange(first, first + len(wanted)) - length + 1
    if len(wanted) and starts[0] >= 0 and (slots[starts] == wanted - length + 1).all():
        # every wanted window is whole (no slot missing in it): the rows themselves, as RollingWindow gives them
        return [(int(s), rows[k : k + length].copy()) for s, k in zip(wanted, starts)]
    window = RollingWindow(length=length, n_columns=rows.shape[1], step_ns=1, max_gap=max_gap)
    out = []
    for slot, row in zip(slots.tolist(), rows):
        done = window.push(slot, row)
        if done and lo <= slot <= hi:
            out.append((slot, done[-1]))
    return out
