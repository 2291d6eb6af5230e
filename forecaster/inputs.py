"""What the network reads: scaled features (global or per-sensor statistics) and, with
``calendar``, the sine/cosine encodings of each input row's time appended as extra columns.

Training lays each sensor's rows out with `series_inputs`; prediction builds the same columns
for raw windows with `window_inputs` from the sensor ids and the time of each window's last
row (`pipelines.calendar.window_calendar`), so a window forecast from a CSV and the same window
from the daemon are the same numbers.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from pipelines.calendar import encode, window_calendar
from pipelines.errors import ForecasterError
from pipelines.scaling import Scaler
from pipelines.sensor_scaling import SensorScalers
from pipelines.series import Prepared
from pipelines.split import TRAIN
from pipelines.timeutil import step_of

log = logging.getLogger(__name__)


def fit_sensor_scalers(global_scaler: Scaler, data: Prepared, labels: dict[str, np.ndarray]) -> SensorScalers:
    """Per-sensor statistics, each fit on that sensor's training rows (a sensor without any keeps
    the global ones, with one log line)."""
    scalers, without = {}, []
    for sensor, series in data.series.items():
        rows = series.values[labels[sensor] == TRAIN]
        if len(rows):
            scalers[sensor] = Scaler(columns=global_scaler.columns).fit(rows)
        else:
            without.append(sensor)
    if without:
        log.info("per-sensor scaling: %d sensor(s) without training rows use the global statistics: %s",
                 len(without), without[:10])
    return SensorScalers(global_scaler, scalers)


def scale(model: Any, values: np.ndarray, sensors: Sequence[object] | None, index: Sequence[int] | None = None,
          *, inverse: bool = False) -> np.ndarray:
    """``values`` ``(n, ..., columns)`` scaled (or, with ``inverse``, back to sensor units) by
    ``model``'s statistics: the global ones, or each row's sensor's with per-sensor scaling."""
    per_sensor = getattr(model, "sensor_scalers_", None)
    if per_sensor is None:
        scaler = model.scaler_
        return scaler.inverse_transform(values, index) if inverse else scaler.transform(values, index)
    if sensors is None:
        raise ForecasterError("this model scales each sensor by its own statistics: pass the sensor id of each "
                              "window (sensors=...)")
    if inverse:
        return per_sensor.inverse_transform(values, list(sensors), index)
    return per_sensor.transform(values, list(sensors), index)


def series_inputs(model: Any, sensor: str, values: np.ndarray, times: pd.DatetimeIndex) -> np.ndarray:
    """One sensor's rows as training lays them out, in the columns of ``model.network_spec``: the
    features scaled, the calendar columns, then the targets that are not features, scaled."""
    per_sensor = getattr(model, "sensor_scalers_", None)  # one sensor: one scaler for every row
    scaled = (model.scaler_ if per_sensor is None else per_sensor.of(sensor)).transform(values)
    parts = model.params.calendar_parts
    if not parts:
        return scaled
    F = len(model.spec.features)
    return np.hstack([scaled[:, :F], encode(times, parts), scaled[:, F:]])


def window_inputs(model: Any, windows: np.ndarray, sensors: Sequence[object] | None, ends: object) -> np.ndarray:
    """What the network reads for raw feature windows ``(n, input_steps, features)``: the scaled
    features and, with calendar inputs, the encodings of the window's slots, which end at ``ends``
    (the time of each window's last row: timestamps or ns since the epoch)."""
    scaled = scale(model, windows, sensors, model.spec.feature_index)
    parts = model.params.calendar_parts
    if not parts:
        return scaled
    if ends is None:
        raise ForecasterError("this model reads calendar inputs: pass the time of each window's last row (ends=...)")
    if len(np.atleast_1d(np.asarray(ends, dtype=object))) != len(windows):
        raise ForecasterError(f"`ends` must hold one time per window ({len(windows)})")
    calendar = window_calendar(ends, step_of(model.freq_).value, model.spec.input_steps, parts)
    return np.concatenate([scaled, calendar], axis=2)
