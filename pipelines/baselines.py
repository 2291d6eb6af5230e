"""Baseline forecasts a model must beat, computed on the same windows as the model.

- `naive_last`: the last observed value, repeated over the horizon.
- `seasonal_naive`: the value one season earlier (``y[t] = y[t - period]``, repeated), inside
  the window; `seasonal_naive_along` looks back along the series instead, so a season may be
  longer than the window (a daily season of 10-minute data is 144 steps).
- `LinearWindow`: a ridge regression from the flattened input window to the whole horizon
  (numpy only, so that `forecaster evaluate` runs on the edge install), fit on the training windows.

Plus `detect_period`, the season length from the cadence or the autocorrelation.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipelines.errors import ForecasterError

# Seasons people expect from a cadence: a day for sub-daily data, a week for daily data.
_DAY = pd.Timedelta("1D")


def naive_last(history: np.ndarray, horizon: int) -> np.ndarray:
    """``(n, L, T)`` target histories -> ``(n, horizon, T)``: the last value repeated.

    Example:
        >>> naive_last(np.array([[[1.0], [2.0]]]), 3)[0, :, 0].tolist()
        [2.0, 2.0, 2.0]
    """
    history = np.asarray(history, dtype="float64")
    return np.repeat(history[:, -1:, :], horizon, axis=1)


def seasonal_naive(history: np.ndarray, horizon: int, period: int) -> np.ndarray:
    """``(n, L, T)`` target histories -> ``(n, horizon, T)``: step ``h`` (0-based) takes the value
    at ``L - period + (h mod period)``, the same phase one season earlier.

    Example:
        >>> seasonal_naive(np.array([[[1.0], [2.0], [3.0]]]), 4, period=2)[0, :, 0].tolist()
        [2.0, 3.0, 2.0, 3.0]

    Raises:
        ForecasterError: when ``period`` is longer than the window.
    """
    history = np.asarray(history, dtype="float64")
    L = history.shape[1]
    if not 1 <= period <= L:
        raise ForecasterError(f"seasonal naive needs 1 <= period <= input_steps={L}. Received: period={period}")
    idx = L - period + np.arange(horizon) % period
    return history[:, idx, :]


def seasonal_naive_along(
    values: np.ndarray, segment: np.ndarray, origins: np.ndarray, horizon: int, period: int
) -> tuple[np.ndarray, np.ndarray]:
    """Seasonal naive forecasts from a whole series: step ``h`` (1-based) after the origin row
    ``o`` takes row ``o + h - period * ceil(h / period)``, the same phase in the latest season
    before the origin (what `seasonal_naive` takes when the season fits in the window).

    Args:
        values: ``(n_rows, T)`` one sensor's target rows.
        segment: the segment id of each row (a season never reaches across a cut gap).
        origins: the row of each forecast's last observed value.
        horizon, period: steps to forecast; the season length in steps.

    Returns:
        ``(forecasts (n, horizon, T), seasoned (n,))``: a forecast whose segment holds less than
        one season before its origin is the last value (naive), marked ``False`` in ``seasoned``.

    Example:
        >>> v = np.arange(10.0)[:, None]
        >>> f, ok = seasonal_naive_along(v, np.zeros(10, int), np.array([5, 1]), 4, period=3)
        >>> f[:, :, 0].tolist(), ok.tolist()
        ([[3.0, 4.0, 5.0, 3.0], [1.0, 1.0, 1.0, 1.0]], [True, False])
    """
    if isinstance(period, bool) or not isinstance(period, (int, np.integer)) or period < 1:
        raise ForecasterError(f"`period` must be a positive integer. Received: period={period!r}")
    values, origins = np.asarray(values, dtype="float64"), np.asarray(origins, dtype="int64")
    h = np.arange(1, horizon + 1)
    offsets = h - period * -(-h // period)  # in [1 - period, 0]
    first = origins + 1 - period
    seasoned = (first >= 0) & (np.asarray(segment)[np.maximum(first, 0)] == np.asarray(segment)[origins])
    rows = np.where(seasoned[:, None], origins[:, None] + offsets[None, :], origins[:, None])
    return values[rows], seasoned


def autocorrelation_period(values: np.ndarray, max_lag: int) -> int | None:
    """The lag in ``[2, max_lag]`` with the highest autocorrelation that is a local peak
    (``None`` when there is no positive peak).

    Example:
        >>> t = np.arange(400)
        >>> autocorrelation_period(np.sin(2 * np.pi * t / 24), 60)
        24
    """
    x = np.asarray(values, dtype="float64")
    x = x[np.isfinite(x)]
    max_lag = min(max_lag, len(x) // 2)
    if max_lag < 3:
        return None
    x = x - x.mean()
    denom = float(np.dot(x, x))
    if denom == 0:
        return None
    acf = np.array([np.dot(x[:-k], x[k:]) / denom for k in range(1, max_lag + 2)])  # acf[k-1] = lag k
    peaks = [k for k in range(2, max_lag + 1) if acf[k - 1] > acf[k - 2] and acf[k - 1] >= acf[k] and acf[k - 1] > 0]
    return max(peaks, key=lambda k: acf[k - 1]) if peaks else None


def detect_period(values: np.ndarray, freq: str | None, max_period: int) -> int:
    """The season length in steps: a day for a sub-daily cadence that divides it (24 for
    ``1h``, 96 for ``15min``, 144 for ``10min``), a week for daily data, else the autocorrelation
    peak; at most ``max_period`` (a season the data can hold), falling back to 1 (naive last value).

    Example:
        >>> detect_period(np.zeros(10), "1h", max_period=96)
        24
        >>> detect_period(np.zeros(10), "1h", max_period=12)
        1
    """
    if freq is not None:
        step = pd.Timedelta(pd.tseries.frequencies.to_offset(freq))
        if step < _DAY and _DAY % step == pd.Timedelta(0):
            period = int(_DAY / step)
            return period if period <= max_period else 1
        if step == _DAY:
            return 7 if 7 <= max_period else 1
    found = autocorrelation_period(values, max_period)
    return found or 1


class LinearWindow:
    """Ridge regression from the flattened input window to every horizon step and target.

    Args:
        alpha: the ridge penalty (on scaled inputs it is mild; 0 is ordinary least squares).
        last_index: positions of the targets among the features; when given, the model works
            relative to the window's last row (inputs minus their last value, targets minus the
            target's last value, as NLinear does), which keeps it sound when the level shifts
            between the training and test periods.

    Example:
        >>> X = np.arange(40.0).reshape(10, 4, 1); y = X[:, -1:, :] + 1
        >>> model = LinearWindow(alpha=0.0).fit(X, y)
        >>> round(float(model.predict(X[:1])[0, 0, 0]), 6)
        4.0
    """

    def __init__(self, *, alpha: float = 1.0, last_index: list[int] | None = None) -> None:
        self.alpha = alpha
        self.last_index = None if last_index is None else [int(i) for i in last_index]

    def _level(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-window offsets of the inputs and of the targets (zero when not relative)."""
        if self.last_index is None:
            return np.zeros((len(X), 1, X.shape[2])), 0.0
        last = X[:, -1:, :]
        return last, last[:, :, self.last_index]

    def fit(self, X: np.ndarray, y: np.ndarray) -> LinearWindow:
        """Learn from windows ``X: (n, L, F)`` and targets ``y: (n, H, T)``; returns self."""
        X, y = np.asarray(X, dtype="float64"), np.asarray(y, dtype="float64")
        if len(X) == 0 or len(X) != len(y):
            raise ForecasterError(f"need matching, non-empty windows to fit. Received: {len(X)} and {len(y)}")
        self.output_shape_ = y.shape[1:]
        x_level, y_level = self._level(X)
        self.coef_, self.intercept_ = ridge((X - x_level).reshape(len(X), -1), (y - y_level).reshape(len(y), -1),
                                           self.alpha)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """``(n, H, T)`` forecasts for windows ``X: (n, L, F)``."""
        if not hasattr(self, "coef_"):
            raise ForecasterError("this LinearWindow is not fitted yet; call fit() first")
        X = np.asarray(X, dtype="float64")
        x_level, y_level = self._level(X)
        flat = (X - x_level).reshape(len(X), -1) @ self.coef_ + self.intercept_
        return flat.reshape(len(X), *self.output_shape_) + y_level


def ridge(X: np.ndarray, y: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Ridge regression with an unpenalized intercept, as scikit-learn's ``Ridge`` solves it
    (centre, then the normal equations; least squares of minimum norm when ``alpha`` is 0).

    Returns:
        ``(coef, intercept)`` with ``X @ coef + intercept`` the fit.

    Example:
        >>> coef, intercept = ridge(np.array([[0.0], [1.0], [2.0]]), np.array([[1.0], [3.0], [5.0]]), 0.0)
        >>> coef.round(6).tolist(), intercept.round(6).tolist()
        ([[2.0]], [1.0])
    """
    x_mean, y_mean = X.mean(axis=0), y.mean(axis=0)
    Xc, yc = X - x_mean, y - y_mean
    if alpha > 0:
        coef = np.linalg.solve(Xc.T @ Xc + alpha * np.eye(X.shape[1]), Xc.T @ yc)
    else:
        coef = np.linalg.lstsq(Xc, yc, rcond=None)[0]
    return coef, y_mean - x_mean @ coef
