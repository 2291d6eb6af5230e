"""Per-column standardization, fit on training rows only, stored as plain JSON."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from pipelines.errors import ForecasterError

log = logging.getLogger(__name__)


class Scaler:
    """Standardize columns by the mean and standard deviation of the training rows.

    A constant column gets scale 1 (and a warning) so that it passes through centred.

    Example:
        >>> s = Scaler(columns=["a", "b"]).fit(np.array([[0.0, 5.0], [2.0, 5.0]]))
        >>> s.transform(np.array([[1.0, 6.0]])).tolist()
        [[0.0, 1.0]]
        >>> Scaler.from_dict(s.to_dict()).inverse_transform([[0.0, 1.0]]).tolist()
        [[1.0, 6.0]]
    """

    def __init__(self, *, columns: Sequence[str]) -> None:
        self.columns = tuple(columns)

    def fit(self, values: np.ndarray) -> Scaler:
        """Learn mean and scale from ``values`` ``(rows, columns)``; returns self."""
        values = np.asarray(values, dtype="float64")
        if values.ndim != 2 or values.shape[1] != len(self.columns) or len(values) == 0:
            raise ForecasterError(
                f"cannot fit a scaler for {len(self.columns)} columns on an array of shape {values.shape}"
            )
        from sklearn.preprocessing import StandardScaler  # only fitting needs scikit-learn

        sk = StandardScaler().fit(values)
        self.mean_ = sk.mean_.astype("float64")
        self.scale_ = sk.scale_.astype("float64")
        constant = [c for c, v in zip(self.columns, sk.var_) if v == 0]
        if constant:
            log.warning("constant column(s) %s in the training rows: scale set to 1", constant)
        return self

    def _check(self) -> None:
        if not hasattr(self, "mean_"):
            raise ForecasterError("this Scaler is not fitted yet; call fit() first")

    def transform(self, values: np.ndarray, index: Sequence[int] | None = None) -> np.ndarray:
        """Scale the last axis of ``values``; ``index`` picks the columns it holds."""
        self._check()
        idx = slice(None) if index is None else list(index)
        return (np.asarray(values, dtype="float64") - self.mean_[idx]) / self.scale_[idx]

    def inverse_transform(self, values: np.ndarray, index: Sequence[int] | None = None) -> np.ndarray:
        """Back to sensor units; ``index`` picks the columns the last axis holds."""
        self._check()
        idx = slice(None) if index is None else list(index)
        return np.asarray(values, dtype="float64") * self.scale_[idx] + self.mean_[idx]

    def to_dict(self) -> dict:
        """Plain JSON-able statistics."""
        self._check()
        return {"columns": list(self.columns), "mean": self.mean_.tolist(), "scale": self.scale_.tolist()}

    @classmethod
    def from_dict(cls, data: dict) -> Scaler:
        """Inverse of `to_dict`."""
        scaler = cls(columns=data["columns"])
        scaler.mean_ = np.asarray(data["mean"], dtype="float64")
        scaler.scale_ = np.asarray(data["scale"], dtype="float64")
        if scaler.mean_.shape != (len(scaler.columns),) or scaler.scale_.shape != scaler.mean_.shape:
            raise ForecasterError("scaler statistics do not match its columns")
        if not (np.isfinite(scaler.mean_).all() and np.isfinite(scaler.scale_).all() and (scaler.scale_ > 0).all()):
            raise ForecasterError("scaler statistics must be finite with a positive scale")
        return scaler
