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
