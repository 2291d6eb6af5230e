"""Chronological train / validation / test splits with common time borders for all sensors.

A global model must not learn from one sensor's future while it is tested on another's
past, so the borders are instants in time, not row counts per sensor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipelines.errors import ForecasterError
from pipelines.series import Prepared
from pipelines.timeutil import time_of_slot

TRAIN, VALIDATION, TEST = 0, 1, 2


@dataclass(frozen=True)
class SplitSpec:
    """Where to cut: fractions of the overall time span, or explicit UTC instants.

    Args:
        val: fraction of the span used for validation (after train).
        test: fraction used for test (the most recent).
        train_end, val_end: explicit borders (the first instant *not* in train / val);
            when given they win over the fractions.

    Example:
        >>> SplitSpec(val=0.1, test=0.2).train
        0.7
    """

    val: float = 0.1
    test: float = 0.2
    train_end: pd.Timestamp | None = None
    val_end: pd.Timestamp | None = None

    def __post_init__(self) -> None:
        for name in ("val", "test"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0 <= value < 1:
                raise ForecasterError(f"`{name}` must be a fraction in [0, 1). Received: {name}={value!r}")
        if self.val + self.test >= 1:
            raise ForecasterError(
                f"`val + test` must leave rows for training. Received: val={self.val}, test={self.test}"
            )
        for name in ("train_end", "val_end"):
            value = getattr(self, name)
            if value is not None:
                ts = pd.Timestamp(value)
                object.__setattr__(self, name, ts.tz_localize("UTC") if ts.tzinfo is None else ts)
        if self.train_end is not None and self.val_end is not None and self.val_end < self.train_end:
            raise ForecasterError("`val_end` must not be before `train_end`")

    @property
    def train(self) -> float:
        """Fraction of the span used for training."""
        return round(1 - self.val - self.test, 10)

    def to_dict(self) -> dict:
        """Plain JSON-able form (instants as ISO strings).

        Example:
            >>> SplitSpec.from_dict(SplitSpec(train_end="2017-01-01").to_dict()).train_end
            Timestamp('2017-01-01 00:00:00+0000', tz='UTC')
        """
        iso = {n: None if getattr(self, n) is None else getattr(self, n).isoformat() for n in ("train_end", "val_end")}
        return {"val": self.val, "test": self.test, **iso}

    @classmethod
    def from_dict(cls, data: dict) -> SplitSpec:
        """Inverse of `to_dict`."""
        return cls(**data)

    def borders(self, data: Prepared) -> tuple[int, int]:
        """The first slot of validation and of test."""
        all_slots = np.concatenate([s.slots for s in data.series.values()])
        if len(all_slots) == 0:
            raise ForecasterError("no complete rows to split")
        lo, hi = int(all_slots.min()), int(all_slots.max()) + 1
        step = data.step.value

        def at(ts: pd.Timestamp | None, fraction: float) -> int:
            if ts is not None:
                return -(-ts.value // step)  # first slot at or after the instant
            return lo + int(round((hi - lo) * fraction))

        val_start = at(self.train_end, self.train)
        test_start = at(self.val_end, self.train + self.val)
        return val_start, max(val_start, test_start)

    @property
    def explicit(self) -> bool:
        """True when both borders are instants (the split no longer depends on the data)."""
        return self.train_end is not None and self.val_end is not None

    def resolved(self, data: Prepared) -> SplitSpec:
        """The same split with its borders on ``data`` as explicit instants, so that a later
        call on a longer or shorter file cuts at the same times (what a bundle records)."""
        val_start, test_start = self.borders(data)
        step = data.step.value
        return SplitSpec(val=self.val, test=self.test, train_end=time_of_slot(val_start, step),
                         val_end=time_of_slot(test_start, step))


def split_labels(slots: np.ndarray, borders: tuple[int, int]) -> np.ndarray:
    """TRAIN / VALIDATION / TEST label of each slot.

    Example:
        >>> split_labels(np.arange(6), (3, 5)).tolist()
        [0, 0, 0, 1, 1, 2]
    """
    return np.searchsorted(np.asarray(borders), slots, side="right").astype("int64")
