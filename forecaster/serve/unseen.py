"""Sensors that a per-sensor scaled model has no statistics for: counted and logged once each."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

log = logging.getLogger(__name__)


class UnseenSensors:
    """Counts (``forecaster_sensors_unseen_scaling_total``) and logs, once per sensor and per model
    served, each sensor forecast with the global statistics (`Forecaster.unseen_sensors`); at most
    ``limit`` sensors are remembered per model (past that, every new one is logged at debug only).

    Example:
        >>> from types import SimpleNamespace
        >>> from forecaster.serve.telemetry import Metrics
        >>> m = Metrics()
        >>> u = UnseenSensors(m)
        >>> model = SimpleNamespace(unseen_sensors=lambda s: [x for x in s if x != "known"])
        >>> u.check(model, ["known", "new"]); u.check(model, ["new"])
        >>> m.value("forecaster_sensors_unseen_scaling_total")
        1.0
    """

    def __init__(self, metrics: Any, *, limit: int = 100_000) -> None:
        self.metrics, self.limit = metrics, limit
        self._model: object = None
        self._seen: set[object] = set()

    def check(self, model: Any, sensors: Sequence[object]) -> None:
        """Count and log the sensors of a batch that ``model`` scales by the global statistics."""
        unseen = getattr(model, "unseen_sensors", None)
        if unseen is None:
            return
        if model is not self._model:  # a reloaded model: its own sensors
            self._model, self._seen = model, set()
        for sensor in unseen(sensors):
            if sensor in self._seen:
                continue
            self.metrics.unseen_scaling.inc()
            if len(self._seen) < self.limit:
                self._seen.add(sensor)
                log.warning("sensor %r was not in the training data: scaled by the global statistics", sensor)
            else:
                log.debug("sensor %r was not in the training data: scaled by the global statistics", sensor)
