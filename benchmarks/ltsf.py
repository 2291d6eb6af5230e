"""The long-horizon forecasting (LTSF) benchmark protocol on ETT, as the literature runs it.

Informer, Autoformer, DLinear, PatchTST and SegRNN all use the same data code: fixed row
borders (12 / 4 / 4 months of 30 days), a StandardScaler fit on the training rows, windows
with stride 1 whose lookback may reach back into the previous split, and MSE / MAE on the
scaled values averaged over every test window, horizon step and channel. This module is that
protocol, data only; `benchmarks/ett.py` trains and reports.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipelines.errors import ForecasterError
from pipelines.scaling import Scaler
from pipelines.windows import gather, window_starts

DATASETS = ("ETTh1", "ETTh2", "ETTm1", "ETTm2")
HORIZONS = (96, 192, 336, 720)
ETT_COLUMNS = ("HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT")
SPLITS = ("train", "val", "test")
_HOURS = (12 * 30 * 24, 4 * 30 * 24, 4 * 30 * 24)  # 8640, 2880, 2880

# Published multivariate MSE (horizon 96 / 192 / 336 / 720): LTSF-Linear Table 2, PatchTST
# Table 3, SegRNN Table 2 (as quoted in issue 5).
PUBLISHED_MSE = {
    "ETTh1": {
        "naive repeat": (1.295, 1.325, 1.323, 1.339),
        "DLinear (L=336)": (0.375, 0.405, 0.439, 0.472),
        "PatchTST/64 (L=512)": (0.370, 0.413, 0.422, 0.447),
        "SegRNN (L=720)": (0.341, 0.385, 0.401, 0.434),
        "plain GRU (SegRNN paper)": (1.126, 1.133, 1.053, 1.077),
    },
    "ETTm1": {
        "DLinear (L=336)": (0.299, 0.335, 0.369, 0.425),
        "PatchTST/64 (L=512)": (0.293, 0.333, 0.369, 0.416),
        "SegRNN (L=720)": (0.282, 0.319, 0.349, 0.410),
    },
}


@dataclass(frozen=True)
class Protocol:
    """Borders and windows of one benchmark setting.

    Args:
        dataset: ``ETTh1``, ``ETTh2``, ``ETTm1`` or ``ETTm2``.
        lookback: the input length ``L``.
        horizon: the forecast length ``H``.

    Example:
        >>> p = Protocol("ETTh1", lookback=720, horizon=96)
        >>> p.borders["train"], p.borders["val"], p.borders["test"]
        ((0, 8640), (7920, 11520), (10800, 14400))
        >>> p.window_count("test")   # 2881 - H
        2785
    """

    dataset: str
    lookback: int
    horizon: int

    def __post_init__(self) -> None:
        if self.dataset not in DATASETS:
            raise ForecasterError(f"`dataset` must be one of {DATASETS}. Received: dataset={self.dataset!r}")
        for name in ("lookback", "horizon"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ForecasterError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
        if self.lookback > _HOURS[0] * self.per_hour // 2:
            raise ForecasterError(f"`lookback` is too long for the protocol. Received: lookback={self.lookback}")

    @property
    def per_hour(self) -> int:
        """Rows per hour: 1 for ETTh, 4 for ETTm (15 minutes)."""
        return 4 if self.dataset.startswith("ETTm") else 1

    @property
    def freq(self) -> str:
        """The cadence of the dataset."""
        return "15min" if self.per_hour == 4 else "1h"

    @property
    def borders(self) -> dict[str, tuple[int, int]]:
        """Row range ``[start, end)`` of each split; val and test start ``L`` rows early."""
        train, val, test = (n * self.per_hour for n in _HOURS)
        L = self.lookback
        return {"train": (0, train), "val": (train - L, train + val), "test": (train + val - L, train + val + test)}

    @property
    def rows_needed(self) -> int:
        """Rows the protocol reads from the file."""
        return self.borders["test"][1]

    def window_count(self, split: str) -> int:
        """Windows of ``split`` (stride 1): rows - L - H + 1."""
        lo, hi = self.borders[split]
        return max(0, hi - lo - self.lookback - self.horizon + 1)

    def window_starts(self, split: str) -> np.ndarray:
        """First row of every window of ``split`` (the rows of ``split`` are one block for
        `pipelines.windows.window_starts`); window ``i`` reads rows ``[s, s + L)`` and
        forecasts rows ``[s + L, s + L + H)``.

        Example:
            >>> Protocol("ETTh1", lookback=720, horizon=96).window_starts("test")[[0, -1]].tolist()
            [10800, 13584]
        """
        lo, hi = self.borders[split]
        return lo + window_starts(np.zeros(hi - lo, dtype="int64"), self.lookback + self.horizon)

    def fit_scaler(self, values: np.ndarray, columns: tuple[str, ...] | list[str]) -> Scaler:
        """A scaler fit on the training rows ``[0, 8640 * per_hour)`` only."""
        values = np.asarray(values, dtype="float64")
        if len(values) < self.rows_needed:
            raise ForecasterError(f"{self.dataset} needs {self.rows_needed} rows. Received: {len(values)}")
        lo, hi = self.borders["train"]
        return Scaler(columns=columns).fit(values[lo:hi])


def cut_windows(values: np.ndarray, starts: np.ndarray, lookback: int, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """``X: (n, L, C)`` and ``y: (n, H, C)`` of the windows that start at ``starts`` (all columns;
    `pipelines.windows.gather`).

    Example:
        >>> X, y = cut_windows(np.arange(10.0)[:, None], np.array([0, 5]), 3, 2)
        >>> X[1, :, 0].tolist(), y[1, :, 0].tolist()
        ([5.0, 6.0, 7.0], [8.0, 9.0])
    """
    return gather(values, starts, lookback), gather(values, starts, horizon, lookback)


def scaled_errors(actual: np.ndarray, predicted: np.ndarray) -> tuple[float, float]:
    """``(MSE, MAE)`` averaged over every window, step and channel (on scaled values).

    Example:
        >>> scaled_errors(np.zeros((2, 2, 1)), np.array([[[1.0], [1.0]], [[0.0], [2.0]]]))
        (1.5, 1.0)
    """
    err = np.asarray(predicted, dtype="float64") - np.asarray(actual, dtype="float64")
    return float(np.mean(err**2)), float(np.mean(np.abs(err)))
