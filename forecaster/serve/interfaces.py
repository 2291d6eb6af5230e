"""What the service needs of its surroundings: a publisher for forecasts, a model, and (for
replicas) a shared window store."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np


class Publisher(Protocol):
    """Where forecasts go (an `MqttClient`, or a list in tests)."""

    def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> bool:
        """Send or queue one message; False when it was dropped."""
        ...


class Model(Protocol):
    """What the service needs of a `forecaster.model.Forecaster`."""

    spec: object
    freq_: str
    max_gap: int
    name: str

    def predict_windows(self, windows: np.ndarray, *, sensors: Any = None, ends: Any = None) -> np.ndarray:
        """``(n, input_steps, n_features)`` -> ``(n, horizon, n_targets)`` in sensor units (``sensors``:
        each window's sensor id; ``ends``: each window's last slot time, ns since the epoch)."""
        ...


def identity(model: Model) -> dict[str, Any] | str:
    """What forecasts say of ``model``: its ``identity`` (``name``, ``version``, content ``hash``;
    `forecaster.model.Forecaster.identity`), or its name when it has none."""
    return getattr(model, "identity", None) or model.name
class WindowStore(Protocol):
    """Windows kept outside the process (`forecaster.serve.shared_service.SharedWindows`): it
    takes over the window step of `ForecastService.process` for a batch."""

    def process(self, service: Any, items: Sequence[Any], tokens: Sequence[object] | None) -> int:
        """Push the batch, publish the forecasts it made due, acknowledge; the forecasts published."""
        ...
