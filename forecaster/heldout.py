"""What a fitted forecaster learns from its held-out windows: the conformal interval table
(validation windows) and the test metrics (test windows).

Both forecast the windows a chunk of start rows at a time from the fleet's scaled series
(`pipelines.fleet.FleetSeries`), so memory holds the rows once and a forecast per window,
never the input windows of a whole split.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import numpy as np

from forecaster.inputs import scale
from pipelines.conformal import DEFAULT_SCALE, Conformal, target_history, window_scale
from pipelines.fleet import FleetSeries
from pipelines.split import TEST, VALIDATION
from pipelines.windows import cut

log = logging.getLogger(__name__)


def _forecast_chunks(model: Any, fleet: FleetSeries, label: int) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per chunk of split ``label``: the input windows ``X`` in sensor units (features only) and,
    in sensor units, actual and forecast ``(n, H, T)`` (each window unscaled by its sensor's
    statistics with per-sensor scaling)."""
    tidx, fidx = list(model.spec.target_index), list(model.spec.feature_index)
    for starts in fleet.chunks(label):
        inputs, y = cut(fleet.values, starts, model.network_spec)
        sensors = fleet.sensors_of(starts) if fleet.names else None
        actual = scale(model, y, sensors, tidx, inverse=True)
        X = scale(model, inputs[..., : len(fidx)], sensors, fidx, inverse=True)
        yield X, actual, scale(model, model._predict_scaled(inputs), sensors, tidx, inverse=True)


def calibrate(model: Any, fleet: FleetSeries) -> Conformal | None:
    """The conformal interval table of ``model`` on the validation windows; None without levels or windows."""
    windows = fleet.count(VALIDATION)
    if windows == 0 and model.intervals:
        log.warning("no validation windows: the model has no prediction intervals")
    if not model.intervals or windows == 0:
        return None
    spec = model.spec
    scaled = target_history(np.zeros((0, spec.input_steps, len(spec.features))), spec) is not None
    actual, forecast, scales = [], [], []
    for X, y, predicted in _forecast_chunks(model, fleet, VALIDATION):
        actual.append(y)
        forecast.append(predicted)
        if scaled:
            scales.append(window_scale(target_history(X, spec)))
    conformal = Conformal(levels=model.intervals, scale=DEFAULT_SCALE if scaled else "none")
    return conformal.fit(np.concatenate(actual), np.concatenate(forecast),
                         scales=np.concatenate(scales) if scaled else None)


def metrics_on_test(model: Any, fleet: FleetSeries) -> dict[str, Any]:
    """MAE and RMSE per target on the test windows, in sensor units, beside naive last value."""
    windows = fleet.count(TEST)
    if windows == 0:
        return {"test_windows": 0}
    spec = model.spec
    tidx = list(spec.target_index)
    naive = all(t in spec.features for t in spec.targets)
    last_of = [spec.features.index(t) for t in spec.targets] if naive else []
    absolute, squared, naive_abs = (np.zeros(len(tidx)) for _ in range(3))
    for X, actual, predicted in _forecast_chunks(model, fleet, TEST):
        absolute += np.abs(actual - predicted).sum(axis=(0, 1))
        squared += ((actual - predicted) ** 2).sum(axis=(0, 1))
        if naive:
            last = X[:, -1:, last_of]
            naive_abs += np.abs(actual - last).sum(axis=(0, 1))
    points = windows * spec.horizon
    metrics: dict[str, Any] = {"test_windows": int(windows)}
    if naive:
        metrics["naive_mae"] = dict(zip(spec.targets, (naive_abs / points).tolist()))
    metrics["mae"] = dict(zip(spec.targets, (absolute / points).tolist()))
    metrics["rmse"] = dict(zip(spec.targets, np.sqrt(squared / points).tolist()))
    return metrics
