"""Data pipelines for sensor series: CSV and MQTT in, regular windows out.

This package is data only (numpy, pandas, scikit-learn; paho in one adapter). It never
imports `forecaster`, Keras or TensorFlow.
"""

from __future__ import annotations

from pipelines.lazy import lazy_exports

_EXPORTS = {
    "ForecasterError": "pipelines.errors",
    "DataError": "pipelines.errors",
    "StaleReading": "pipelines.errors",
    "read_csv": "pipelines.csv_source",
    "prepare": "pipelines.series",
    "Prepared": "pipelines.series",
    "regularize": "pipelines.regular",
    "RegularSeries": "pipelines.regular",
    "GapReport": "pipelines.regular",
    "SplitSpec": "pipelines.split",
    "Scaler": "pipelines.scaling",
    "WindowSpec": "pipelines.windows",
    "make_windows": "pipelines.windows",
    "input_windows": "pipelines.windows",
    "RollingWindow": "pipelines.stream",
    "WindowRegistry": "pipelines.stream",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports("pipelines", _EXPORTS)
