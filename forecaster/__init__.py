"""iot-forecaster: LSTM/GRU forecasting for IoT sensor series.

Example:
    >>> import forecaster
    >>> sorted(n for n in forecaster.__all__ if not n[0].isupper())
    ['load', 'read_csv', 'train', 'train_backfill']

Exports are loaded lazily (PEP 562): ``import forecaster`` does not load TensorFlow.
"""

from __future__ import annotations

from pipelines.lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    "Forecaster": "forecaster.model",
    "ModelParams": "forecaster.params",
    "train": "forecaster.api",
    "load": "forecaster.api",
    "Backfiller": "forecaster.backfill.estimator",
    "BackfillSpec": "pipelines.gaps",
    "train_backfill": "forecaster.backfill.estimator",
    "WindowSpec": "pipelines.windows",
    "SplitSpec": "pipelines.split",
    "read_csv": "pipelines.csv_source",
    "ForecasterError": "pipelines.errors",
    "DataError": "pipelines.errors",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports("forecaster", _EXPORTS)
