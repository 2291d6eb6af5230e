"""Data pipelines for sensor series: CSV and MQTT in, regular windows out.

This package is data only (numpy, pandas, scikit-learn; paho in one adapter). It never
imports `forecaster`, Keras or TensorFlow.
"""

from __future__ import annotations

import importlib
from typing import Any

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


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'pipelines' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
