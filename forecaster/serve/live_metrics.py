"""The live accuracy on ``/metrics``: sums kept in numpy arrays by the worker, written out as
Prometheus families at each scrape (a collector), so that scoring a reading costs a few array
additions instead of one labelled-metric lookup per target, step and level.

Families (``step`` is the horizon step, 1 = one cadence step ahead; ``sensor`` only with
``--metrics-per-sensor``):

- ``forecaster_live_abs_error{target,step}``: a summary (``_sum``, ``_count``) of the absolute
  error of the forecasts against the readings that arrived for their slots;
- ``forecaster_live_naive_abs_error{target,step}``: the same for the naive last-value forecast
  on the same readings (so ``_sum`` over ``_sum`` is "model error / naive error", live);
- ``forecaster_live_interval_hits_total{level,target,step}`` and
  ``forecaster_live_interval_scored_total{level,target,step}``: readings inside the interval,
  and readings scored (their ratio is the live coverage);
- ``forecaster_anomalies_total{target}``, ``forecaster_live_scoring_errors_total``,
  ``forecaster_live_forecasts_kept``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric, SummaryMetricFamily


class LiveAccuracy:
    """The live scores' sums and their Prometheus collector.

    Args:
        targets: the scored targets' names.
        horizon: forecast steps.
        levels: the interval levels' keys (``"0.95"``).
        per_sensor: one set of series per sensor (``--metrics-per-sensor``; small fleets only).

    Example:
        >>> acc = LiveAccuracy(["OT"], horizon=2, levels=["0.9"])
        >>> acc.add("t1", np.array([0]), np.array([[[1.0], [0.5], [1.5], [1.0]]]))
        >>> acc.totals()["error"], acc.totals()["hits"]
        (array([[0.5],
               [0. ]]), array([[[1.],
                [0.]]]))
    """

    def __init__(self, targets: Sequence[str], *, horizon: int, levels: Sequence[str], per_sensor: bool = False) -> None:
        self.targets, self.horizon, self.levels, self.per_sensor = list(targets), horizon, list(levels), per_sensor
        self._sums: dict[str, np.ndarray] = {} if per_sensor else {"": self._new()}
        self.anomalies = np.zeros(len(self.targets))
        self.errors = 0
        self.kept: Callable[[], int] = lambda: 0  # forecasts waiting for their readings (set by the scorer)

    def _new(self) -> np.ndarray:
        """``(horizon, 3 + n_levels, n_targets)``: readings scored, sums of the model's and of the
        naive absolute errors, readings inside each level's interval."""
        return np.zeros((self.horizon, 3 + len(self.levels), len(self.targets)))

    def add(self, sensor: str, k: np.ndarray, scores: np.ndarray) -> None:
        """Add ``scores`` ``(n, 3 + n_levels, n_targets)`` at the distinct horizon steps ``k``
        (0-based, ``(n,)``): 1 where scored, the model's and the naive absolute errors, 1 where
        inside each level's interval (0 everywhere for a target not scored)."""
        key = sensor if self.per_sensor else ""
        sums = self._sums.get(key)
        if sums is None:
            sums = self._sums[key] = self._new()
        sums[k] += scores

    def forget(self, sensor: str) -> None:
        """Drop a sensor's series (per-sensor metrics; its window was evicted)."""
        if self.per_sensor:
            self._sums.pop(sensor, None)

    def totals(self) -> dict[str, np.ndarray]:
        """The sums over every sensor: ``count``, ``error``, ``naive``, ``hits`` (tests, logs)."""
        total = sum(list(self._sums.values()), self._new())
        return {"count": total[:, 0], "error": total[:, 1], "naive": total[:, 2], "hits": total[:, 3:].transpose(1, 0, 2)}

    def collect(self) -> Iterator[Metric]:
        """The Prometheus families (called by the registry at each scrape)."""
        extra = ["sensor"] if self.per_sensor else []
        error = SummaryMetricFamily("forecaster_live_abs_error", "Absolute error of the published forecasts against "
                                    "the readings of their slots, by target and horizon step.", labels=["target", "step", *extra])
        naive = SummaryMetricFamily("forecaster_live_naive_abs_error", "Absolute error of the naive last-value forecast "
                                    "on the same readings.", labels=["target", "step", *extra])
        hits = CounterMetricFamily("forecaster_live_interval_hits", "Scored readings inside the forecast's interval.",
                                   labels=["level", "target", "step", *extra])
        scored = CounterMetricFamily("forecaster_live_interval_scored", "Readings scored against an interval.",
                                     labels=["level", "target", "step", *extra])
        for sensor, sums in list(self._sums.items()):
            tail = [sensor] if self.per_sensor else []
            for k in range(self.horizon):
                for j, target in enumerate(self.targets):
                    labels, n = [target, str(k + 1), *tail], float(sums[k, 0, j])
                    error.add_metric(labels, n, float(sums[k, 1, j]))
                    naive.add_metric(labels, n, float(sums[k, 2, j]))
                    for i, level in enumerate(self.levels):
                        hits.add_metric([level, *labels], float(sums[k, 3 + i, j]))
                        scored.add_metric([level, *labels], n)
        yield from (error, naive, hits, scored)
        yield from self._counts()

    def _counts(self) -> Iterator[Metric]:
        anomalies = CounterMetricFamily("forecaster_anomalies", "Readings outside the interval of the forecast "
                                        "made for their slot (--anomaly-topic).", labels=["target"])
        for j, target in enumerate(self.targets):
            anomalies.add_metric([target], float(self.anomalies[j]))
        yield anomalies
        yield CounterMetricFamily("forecaster_live_scoring_errors", "Readings or forecasts the live scoring failed "
                                  "on (logged; never stops the daemon).", value=self.errors)
        yield GaugeMetricFamily("forecaster_live_forecasts_kept", "Forecasts kept until the readings of their "
                                "slots arrive (at most horizon per sensor).", value=self.kept())
