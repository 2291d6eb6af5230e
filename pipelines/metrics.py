"""Forecast error metrics on arrays of the same shape (sensor units or scaled)."""

from __future__ import annotations

import numpy as np


def mae(actual: np.ndarray, predicted: np.ndarray, axis: int | tuple[int, ...] | None = None) -> np.ndarray:
    """Mean absolute error.

    Example:
        >>> float(mae(np.array([1.0, 2.0]), np.array([2.0, 4.0])))
        1.5
    """
    return np.mean(np.abs(np.asarray(actual) - np.asarray(predicted)), axis=axis)


def mse(actual: np.ndarray, predicted: np.ndarray, axis: int | tuple[int, ...] | None = None) -> np.ndarray:
    """Mean squared error.

    Example:
        >>> float(mse(np.array([1.0, 2.0]), np.array([2.0, 4.0])))
        2.5
    """
    return np.mean((np.asarray(actual) - np.asarray(predicted)) ** 2, axis=axis)


def rmse(actual: np.ndarray, predicted: np.ndarray, axis: int | tuple[int, ...] | None = None) -> np.ndarray:
    """Root mean squared error.

    Example:
        >>> round(float(rmse(np.array([0.0, 0.0]), np.array([3.0, 4.0]))) ** 2, 6)
        12.5
    """
    return np.sqrt(mse(actual, predicted, axis=axis))


def mape(
    actual: np.ndarray, predicted: np.ndarray, axis: int | tuple[int, ...] | None = None, eps: float = 1e-8
) -> np.ndarray:
    """Mean absolute percentage error (in %), guarded against zeros: points where
    ``|actual| <= eps`` are left out (NaN where no point is left).

    Example:
        >>> float(mape(np.array([2.0, 4.0]), np.array([1.0, 5.0])))
        37.5
        >>> float(mape(np.array([0.0, 4.0]), np.array([1.0, 5.0])))   # the zero is skipped
        25.0
    """
    actual, predicted = np.broadcast_arrays(np.asarray(actual, dtype="float64"), np.asarray(predicted, dtype="float64"))
    keep = np.abs(actual) > eps
    ratio = np.where(keep, np.abs(actual - predicted) / np.where(keep, np.abs(actual), 1.0), 0.0)
    count = np.sum(keep, axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return 100.0 * np.sum(ratio, axis=axis) / np.where(count > 0, count, np.nan)


def near_zero(actual: np.ndarray, fraction: float = 0.05, axis: int | tuple[int, ...] | None = None) -> np.ndarray:
    """A MAPE guard: ``fraction`` of the mean absolute actual value (per column when ``axis``
    reduces the others). A reading this close to zero makes its percentage error meaningless
    (0.07 A on a line that carries 2 A on average, missed by 1 A, would count 1,400 %).

    Example:
        >>> float(near_zero(np.array([1.0, -3.0]), fraction=0.1))
        0.2
    """
    return fraction * np.mean(np.abs(np.asarray(actual, dtype="float64")), axis=axis)


def smape(actual: np.ndarray, predicted: np.ndarray, axis: int | tuple[int, ...] | None = None) -> np.ndarray:
    """Symmetric MAPE (in %, from 0 to 200): ``200 * mean(|a - p| / (|a| + |p|))``; a point
    where both are zero counts as no error.

    Example:
        >>> float(smape(np.array([1.0, 0.0]), np.array([3.0, 0.0])))
        50.0
    """
    actual, predicted = np.asarray(actual, dtype="float64"), np.asarray(predicted, dtype="float64")
    denom = np.abs(actual) + np.abs(predicted)
    ratio = np.where(denom > 0, np.abs(actual - predicted) / np.where(denom > 0, denom, 1.0), 0.0)
    return 200.0 * np.mean(ratio, axis=axis)


def mase_scale(history: np.ndarray, period: int = 1) -> np.ndarray:
    """The MASE denominator: in-sample MAE of the seasonal naive forecast ``y[t] = y[t - period]``
    over ``history`` ``(rows, ...)`` (per column).

    Example:
        >>> mase_scale(np.array([1.0, 3.0, 2.0, 5.0]), period=1).tolist()
        2.0
    """
    history = np.asarray(history, dtype="float64")
    if period < 1 or len(history) <= period:
        raise ValueError(f"need more than period={period} rows of history, got {len(history)}")
    return np.mean(np.abs(history[period:] - history[:-period]), axis=0)


def mase(
    actual: np.ndarray, predicted: np.ndarray, scale: np.ndarray | float, axis: int | tuple[int, ...] | None = None
) -> np.ndarray:
    """Mean absolute scaled error: MAE divided by ``scale`` (see `mase_scale`; broadcast on the
    last axis). Below 1: better than the in-sample seasonal naive forecast.

    Example:
        >>> float(mase(np.array([1.0, 2.0]), np.array([2.0, 4.0]), scale=3.0))
        0.5
    """
    scale = np.asarray(scale, dtype="float64")
    with np.errstate(invalid="ignore", divide="ignore"):
        return mae(actual, predicted, axis=axis) / np.where(scale > 0, scale, np.nan)


def coverage(actual: np.ndarray, lo: np.ndarray, hi: np.ndarray, axis: int | tuple[int, ...] | None = None) -> np.ndarray:
    """The share of ``actual`` values inside ``[lo, hi]``.

    Example:
        >>> float(coverage(np.array([1.0, 5.0]), np.array([0.0, 0.0]), np.array([2.0, 2.0])))
        0.5
    """
    actual = np.asarray(actual, dtype="float64")
    return np.mean((actual >= lo) & (actual <= hi), axis=axis)


def winkler(actual: np.ndarray, lo: np.ndarray, hi: np.ndarray, level: float,
            axis: int | tuple[int, ...] | None = None) -> np.ndarray:
    """The mean Winkler (interval) score at ``level``: the width ``hi - lo``, plus ``2 / (1 - level)``
    times the distance by which ``actual`` falls outside (lower is better; sensor units).

    Example:
        >>> float(winkler(np.array([1.0, 4.0]), np.array([0.0, 0.0]), np.array([2.0, 2.0]), 0.5))
        6.0
    """
    actual = np.asarray(actual, dtype="float64")
    outside = np.maximum(lo - actual, 0.0) + np.maximum(actual - hi, 0.0)
    return np.mean(hi - lo + 2.0 / (1.0 - level) * outside, axis=axis)


def anomaly_score(actual: np.ndarray | float, lo: np.ndarray | float, hi: np.ndarray | float) -> np.ndarray:
    """How far ``actual`` lies outside ``[lo, hi]``, in interval widths (0 inside; NaN outside an
    interval of no width): the score of an anomaly flag, live (``serve --anomaly-topic``) and
    offline (``evaluate --anomalies``).

    Example:
        >>> anomaly_score(np.array([14.0, 7.0, 9.0]), 8.0, 12.0).tolist()
        [0.5, 0.25, 0.0]
    """
    actual = np.asarray(actual, dtype="float64")
    outside = np.maximum(lo - actual, 0.0) + np.maximum(actual - hi, 0.0)
    width = np.asarray(hi - lo, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(outside == 0.0, 0.0, np.where(width > 0, outside / np.where(width > 0, width, 1.0), np.nan))
