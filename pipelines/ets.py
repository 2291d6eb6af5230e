"""The AutoETS baseline (statsforecast's, the optional extra ``forecaster[baselines]``).

Per sensor and target, AutoETS picks and fits an exponential-smoothing model on the training
rows once; each forecast then runs that fitted model (`AutoETS.forward`, no refit) over the
rows before the origin, as far back as ``context`` rows within the origin's segment. The
context starts at a whole number of seasons from the fitted rows' start, so the fitted
seasonal states keep their phase.
"""

from __future__ import annotations

import importlib.util
import warnings

import numpy as np

FIT_ROWS = 2000
"""At most this many (the latest) training rows are fit: AutoETS's search is the slow part."""


def ets_available() -> bool:
    """True when statsforecast is installed (``pip install 'iot-forecaster[baselines]'``)."""
    return importlib.util.find_spec("statsforecast") is not None


def autoets_along(
    values: np.ndarray, segment: np.ndarray, train: np.ndarray, origins: np.ndarray, horizon: int, period: int,
    *, context: int,
) -> np.ndarray:
    """AutoETS forecasts ``(n, horizon, T)`` from one sensor's rows.

    Args:
        values: ``(n_rows, T)`` the sensor's target rows (regular, gaps filled or cut).
        segment: the segment id of each row (a context never reaches across a cut gap).
        train: the positions of the training rows (the fit uses the latest `FIT_ROWS` of them).
        origins: the row of each forecast's last observed value.
        horizon, period: steps to forecast; the season length (1: no season).
        context: the most rows before an origin the fitted model runs over.
    """
    from statsforecast.models import AutoETS

    values = np.asarray(values, dtype="float64")
    train = np.asarray(train)[-FIT_ROWS:]
    out = np.empty((len(origins), horizon, values.shape[1]))
    period = period if 1 < period < len(train) // 2 else 1
    for j in range(values.shape[1]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = AutoETS(season_length=period).fit(values[train, j])
        for i, o in enumerate(np.asarray(origins, dtype="int64")):
            first = max(o + 1 - context, int(np.searchsorted(segment, segment[o])) if _sorted(segment) else 0)
            first += (train[0] - first) % period  # whole seasons from the fitted rows' start
            if first > o:
                first -= period
            out[i, :, j] = model.forward(y=values[max(first, 0):o + 1, j], h=horizon)["mean"]
    return out


def _sorted(segment: np.ndarray) -> bool:
    return bool(np.all(np.diff(segment) >= 0))
