"""Anomaly flags (``--anomaly-topic``): a reading outside the interval of the forecast made for
its slot is published, with what it was compared to and how far outside it lies.

The payload, one message per reading and target flagged::

    {"sensor": "t1", "target": "OT", "ts": "2026-11-23T13:00:00Z", "reading": 41.2,
     "forecast": 30.9, "lo": 29.1, "hi": 32.7, "level": "0.95", "step": 1,
     "issued_at": "2026-11-23T12:00:00Z", "score": 2.36,
     "model": {"name": "etth1-lstm", "version": 2, "hash": "9f2c4e1a7b3d5f60"}}

``score`` is the distance outside the interval in interval widths (0.5: half a width below
``lo`` or above ``hi``); null when the interval has no width.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import orjson

from forecaster.serve.formats import slot_times
from pipelines import metrics
from pipelines.errors import ForecasterError


def anomaly_score(reading: float, lo: float, hi: float) -> float | None:
    """How far ``reading`` lies outside ``[lo, hi]``, in interval widths (0 inside; None for an
    interval of no width; `pipelines.metrics.anomaly_score`).

    Example:
        >>> anomaly_score(14.0, 8.0, 12.0), anomaly_score(7.0, 8.0, 12.0), anomaly_score(9.0, 8.0, 12.0)
        (0.5, 0.25, 0.0)
    """
    score = float(metrics.anomaly_score(reading, lo, hi))
    return None if np.isnan(score) else score


class AnomalyFlags:
    """Publishes the readings outside the interval at one level of the forecast ``step`` steps
    ahead, and counts them.

    Args:
        publish: ``(topic, payload, qos, retain) -> bool`` (the service's publisher).
        template: the topic, e.g. ``anomalies/{sensor}``.
        level, step: the interval level's key and the horizon step (1: the forecast issued
            at the previous slot).
        qos: as the forecasts'.
    """

    def __init__(self, publish: Callable[[str, bytes, int, bool], bool], *, template: str, level: str, step: int = 1,
                 qos: int = 1, targets: Sequence[str], model: str | dict, step_ns: int) -> None:
        if isinstance(step, bool) or not isinstance(step, int) or step < 1:
            raise ForecasterError(f"`anomaly_step` must be a positive integer. Received: anomaly_step={step!r}")
        self.publish, self.template, self.level, self.step, self.qos = publish, template, level, step, qos
        self.targets, self.model, self.step_ns = list(targets), model, step_ns
        self.failed = 0  # anomalies paho refused to queue

    def check(self, sensor: str, slot: int, issued: int, point: np.ndarray, lo: np.ndarray, hi: np.ndarray,
              reading: np.ndarray) -> np.ndarray:
        """Flag each target whose ``reading`` (at ``slot``) is outside ``[lo, hi]`` (the values of
        the forecast issued at slot ``issued`` for ``slot``, by target). Returns the flags."""
        outside = (reading < lo) | (reading > hi)
        if outside.any():
            times = slot_times(issued, slot - issued, self.step_ns)
            topic = self.template.replace("{sensor}", sensor)
            for j in np.flatnonzero(outside):
                body = {"sensor": sensor, "target": self.targets[j], "ts": times[-1], "reading": float(reading[j]),
                        "forecast": float(point[j]), "lo": float(lo[j]), "hi": float(hi[j]), "level": self.level,
                        "step": slot - issued, "issued_at": times[0],
                        "score": anomaly_score(float(reading[j]), float(lo[j]), float(hi[j])), "model": self.model}
                if not self.publish(topic, orjson.dumps(body), self.qos, False):
                    self.failed += 1
        return outside
