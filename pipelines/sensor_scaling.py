"""Per-sensor scaling: one `Scaler` per sensor, fit on that sensor's training rows, beside the
global one, which serves every sensor unseen at training. Plain JSON in ``bundle.json``.

Example:
    >>> g = Scaler(columns=["t"]).fit(np.array([[0.0], [10.0]]))
    >>> s = SensorScalers(g, {"a": Scaler(columns=["t"]).fit(np.array([[-20.0], [-18.0]]))})
    >>> s.transform(np.array([[[-19.0]], [[5.0]]]), ["a", "new"], [0]).ravel().tolist()
    [0.0, 0.0]
    >>> s.unseen(["a", "new"])
    ['new']
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pipelines.errors import ForecasterError
from pipelines.scaling import Scaler


class SensorScalers:
    """Per-sensor statistics with the global ones as the fallback.

    Args:
        global_scaler: fit on every sensor's training rows.
        scalers: ``{sensor: Scaler}`` fit on each sensor's own training rows.
    """

    def __init__(self, global_scaler: Scaler, scalers: dict[str, Scaler]) -> None:
        self.global_scaler = global_scaler
        self.scalers = dict(scalers)

    def of(self, sensor: object) -> Scaler:
        """The statistics of ``sensor`` (the global ones when it has none of its own)."""
        return self.scalers.get(sensor, self.global_scaler)

    def unseen(self, sensors: Sequence[object]) -> list[object]:
        """The sensors (in order, once each) that have no statistics of their own."""
        return list(dict.fromkeys(s for s in sensors if s not in self.scalers))

    def stats(self, sensors: Sequence[object], index: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(mean, scale)``, each ``(n, columns)``: the statistics of each sensor (global when unseen)."""
        chosen = [self.of(s) for s in sensors]
        idx = slice(None) if index is None else list(index)
        width = len(self.global_scaler.columns) if index is None else len(idx)
        mean = np.array([c.mean_[idx] for c in chosen], dtype="float64").reshape(len(chosen), width)
        scale = np.array([c.scale_[idx] for c in chosen], dtype="float64").reshape(len(chosen), width)
        return mean, scale

    def transform(self, values: np.ndarray, sensors: Sequence[object], index: Sequence[int] | None = None) -> np.ndarray:
        """Scale ``values`` ``(n, ..., columns)``, row ``i`` by the statistics of ``sensors[i]``."""
        mean, scale = self._broadcast(values, sensors, index)
        return (np.asarray(values, dtype="float64") - mean) / scale

    def inverse_transform(self, values: np.ndarray, sensors: Sequence[object],
                          index: Sequence[int] | None = None) -> np.ndarray:
        """Back to sensor units, row ``i`` by the statistics of ``sensors[i]``."""
        mean, scale = self._broadcast(values, sensors, index)
        return np.asarray(values, dtype="float64") * scale + mean

    def _broadcast(self, values: np.ndarray, sensors: Sequence[object], index: Sequence[int] | None):
        values = np.asarray(values)
        if len(sensors) != len(values):
            raise ForecasterError(f"{len(sensors)} sensor ids for {len(values)} windows")
        mean, scale = self.stats(sensors, index)
        shape = (len(values),) + (1,) * (values.ndim - 2) + (mean.shape[1],)
        return mean.reshape(shape), scale.reshape(shape)

    def to_dict(self) -> dict:
        """``{sensor: {"mean": [...], "scale": [...]}}`` (plain numbers; columns are the global scaler's)."""
        return {str(s): {"mean": c.mean_.tolist(), "scale": c.scale_.tolist()} for s, c in self.scalers.items()}

    @classmethod
    def from_dict(cls, global_scaler: Scaler, data: dict) -> SensorScalers:
        """Inverse of `to_dict` (each sensor's statistics checked like the global ones)."""
        if not isinstance(data, dict):
            raise ForecasterError("per-sensor scaler statistics must be an object of sensors")
        columns = list(global_scaler.columns)
        scalers = {}
        for sensor, stats in data.items():
            try:
                scalers[sensor] = Scaler.from_dict({"columns": columns, "mean": stats["mean"], "scale": stats["scale"]})
            except (KeyError, TypeError, ValueError, ForecasterError) as exc:
                raise ForecasterError(f"per-sensor scaler of sensor {sensor!r}: {exc}") from None
        return cls(global_scaler, scalers)
