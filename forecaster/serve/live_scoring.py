"""Live accuracy: the daemon keeps each forecast it publishes until the readings of its slots
arrive, and scores it then (in the worker, where readings are pushed).

For each reading of slot ``t`` of a sensor, every kept forecast of that sensor issued at a slot
``s`` with ``0 < t - s <= horizon`` is scored at horizon step ``t - s``: the absolute error per
target, whether the reading lies inside the interval at each served level, and the error of the
naive forecast on the same reading (the last reading of the forecast's window, repeated). The
sums go to `forecaster.serve.live_metrics.LiveAccuracy`; with `AnomalyFlags`, the reading is
also checked against the interval of the forecast ``step`` steps ahead.

Memory is bounded: a sensor keeps at most ``horizon`` forecasts (a ring; one whose last slot
has passed is dropped), and the sensor's forecasts go when its window is evicted (`retain`).
A reading is scored against all of them in a few array operations (about 25 us for a horizon
of 24 and two levels; `Kept`).
Only readings that complete a window are scored (a window's slot, after aggregation; slots
interpolated across a gap are not readings and are not scored). Scoring never raises: a
failure is counted (``forecaster_live_scoring_errors_total``) and logged at a limited rate.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

import numpy as np

from forecaster.serve.anomalies import AnomalyFlags
from forecaster.serve.interfaces import Model, Publisher, identity
from forecaster.serve.live_metrics import LiveAccuracy
from forecaster.serve.telemetry import ExceptionLog, Metrics
from pipelines.conformal import level_key
from pipelines.errors import ForecasterError
from pipelines.timeutil import step_of

log = logging.getLogger(__name__)


EMPTY = np.iinfo(np.int64).min // 2  # the issue slot of a free place in a `Kept` ring


class Kept:
    """The forecasts of one sensor waiting for their readings: a ring of ``horizon`` places, the
    forecast issued at slot ``s`` in place ``s % horizon`` (it replaces the one of ``s - horizon``,
    whose slots have all passed). Scored targets only."""

    def __init__(self, horizon: int, n_targets: int, n_levels: int) -> None:
        self.issued = np.full(horizon, EMPTY, dtype=np.int64)
        # (place, step, channel, target); channels: the point forecast, lo and hi of each level in
        # turn (the `banded` order), the naive forecast (the window's last reading) last
        self.values = np.zeros((horizon, horizon, 2 + 2 * n_levels, n_targets))


class LiveScoring:
    """Keeps forecasts per sensor and scores them against the readings of their slots.

    Args:
        features, targets: the model's columns; the targets that are features are scored
            (a reading holds the features only: `scored_targets`, ``accuracy.targets``).
        horizon: forecast steps.
        n_levels: interval levels in each `banded` forecast (their keys are ``accuracy.levels``).
        accuracy: where the scores are added (registered on ``/metrics`` by the caller).
        anomalies: the anomaly flags; None: off.

    Example:
        >>> acc = LiveAccuracy(["y"], horizon=2, levels=[])
        >>> live = LiveScoring(["y"], ["y"], horizon=2, n_levels=0, accuracy=acc)
        >>> live.keep(["s"], np.array([[[10.0], [11.0]]]), np.array([[[9.0]]]), [5])
        >>> live.score("s", 6, np.array([10.5])); live.score("s", 7, np.array([13.0]))
        >>> acc.totals()["error"].ravel().tolist(), acc.totals()["naive"].ravel().tolist(), live.kept()
        ([0.5, 2.0], [1.5, 4.0], 0)
    """

    def __init__(self, features: Sequence[str], targets: Sequence[str], *, horizon: int, n_levels: int,
                 accuracy: LiveAccuracy, anomalies: AnomalyFlags | None = None, log_interval: float = 10.0) -> None:
        scored = [j for j, t in enumerate(targets) if t in features]
        self._t = np.array(scored, dtype=int)  # positions in the forecast's targets
        self._f = np.array([list(features).index(targets[j]) for j in scored], dtype=int)  # ... in a reading
        self.n_targets, self.horizon, self.n_levels = len(targets), horizon, n_levels
        self.accuracy, self.anomalies = accuracy, anomalies
        self._level = None if anomalies is None else accuracy.levels.index(anomalies.level)
        self._kept: dict[str, dict[int, Kept]] = {}
        self._bug = ExceptionLog(log, interval=log_interval)
        accuracy.kept = self.kept

    def kept(self) -> int:
        """Forecasts waiting for readings (all sensors)."""
        return int(sum(np.count_nonzero(k.issued != EMPTY) for k in list(self._kept.values())))

    def keep(self, sensors: Sequence[str], forecasts: np.ndarray, windows: np.ndarray, slots: Sequence[int]) -> None:
        """Keep each sensor's `banded` forecast ``(horizon, n_targets * (1 + 2 * n_levels))``
        issued at its window's last slot, with the window's last row for the naive forecast
        (``windows``: ``(n, input_steps, n_features)``). Non-finite forecasts are not kept."""
        if not len(self._t):
            return
        try:
            T, L, t = self.n_targets, self.n_levels, self._t
            finite = np.isfinite(forecasts).all(axis=(1, 2))
            # (n, horizon, 1 + 2L, n_scored): the point forecast, then lo and hi of each level
            parts = forecasts.reshape(len(forecasts), self.horizon, 1 + 2 * L, T)[..., t]
            last = windows[:, -1][:, self._f]
            for n, (sensor, slot) in enumerate(zip(sensors, slots)):
                if finite[n]:
                    self._keep(sensor, int(slot), parts[n], last[n])
        except Exception:
            self.accuracy.errors += 1
            self._bug("live scoring: failed to keep a batch of forecasts")

    def _keep(self, sensor: str, slot: int, parts: np.ndarray, last: np.ndarray) -> None:
        kept = self._kept.get(sensor)
        if kept is None:
            kept = self._kept[sensor] = Kept(self.horizon, len(self._t), self.n_levels)
        place = slot % self.horizon
        kept.issued[place] = slot
        kept.values[place, :, :-1] = parts
        kept.values[place, :, -1] = last

    def score(self, sensor: str, slot: int, row: np.ndarray) -> None:
        """Score the kept forecasts of ``sensor`` against its reading ``row`` (the features, in
        sensor units) of ``slot``; forecasts with no slot left are dropped. Never raises."""
        kept = self._kept.get(sensor)
        if kept is None:
            return
        try:
            self._score(sensor, int(slot), np.asarray(row, dtype=float)[self._f], kept)
        except Exception:
            self.accuracy.errors += 1
            self._bug(f"live scoring: failed to score a reading of {sensor[:128]!r}")

    def _score(self, sensor: str, slot: int, y: np.ndarray, kept: Kept) -> None:
        ahead = slot - kept.issued  # the horizon step of this slot in each kept forecast
        places = np.flatnonzero((ahead >= 1) & (ahead <= self.horizon))
        kept.issued[ahead >= self.horizon] = EMPTY  # scored at its last step, or its slots have passed
        if not places.size:
            return
        k = ahead[places] - 1  # distinct: one forecast per issue slot
        d = kept.values[places, k] - y  # (n, channel, target)
        scores = np.empty((len(k), 3 + self.n_levels, d.shape[2]))  # `LiveAccuracy.add`'s rows
        ok = np.isfinite(y)
        scores[:, 0] = ok
        np.abs(d[:, 0], out=scores[:, 1])
        np.abs(d[:, -1], out=scores[:, 2])
        scores[:, 3:] = (d[:, 1:-1:2] <= 0) & (d[:, 2:-1:2] >= 0)  # lo <= y <= hi
        self.accuracy.add(sensor, k, scores if ok.all() else np.where(ok, scores, 0.0))
        if self.anomalies is not None:
            hit = np.flatnonzero(k == self.anomalies.step - 1)
            if hit.size:
                self._flag(sensor, slot, int(places[hit[0]]), kept, y, ok)

    def _flag(self, sensor: str, slot: int, place: int, kept: Kept, y: np.ndarray, ok: np.ndarray) -> None:
        assert self.anomalies is not None and self._level is not None
        k, i = self.anomalies.step - 1, self._level
        issued = slot - self.anomalies.step
        point, lo, hi = (np.where(ok, kept.values[place, k, c], np.nan) for c in (0, 1 + 2 * i, 2 + 2 * i))
        flagged = self.anomalies.check(sensor, slot, issued, point, lo, hi, np.where(ok, y, np.nan))
        self.accuracy.anomalies += flagged

    def retain(self, sensors: Iterable[str]) -> None:
        """Drop the forecasts (and per-sensor series) of every sensor not in ``sensors`` (the
        window registry after an eviction)."""
        alive = set(sensors)
        for sensor in [s for s in self._kept if s not in alive]:
            del self._kept[sensor]
            self.accuracy.forget(sensor)


class NoScoring:
    """Live scoring switched off (``forecaster serve --no-live-scoring``): keeps and scores nothing."""

    anomalies = None  # no anomaly flags without scoring

    def keep(self, sensors: Sequence[str], forecasts: np.ndarray, windows: np.ndarray, slots: Sequence[int]) -> None:
        """Keep nothing."""

    def score(self, sensor: str, slot: int, row: np.ndarray) -> None:
        """Score nothing."""

    def retain(self, sensors: Iterable[str]) -> None:
        """Nothing kept, nothing to drop."""


def scored_targets(features: Sequence[str], targets: Sequence[str]) -> list[str]:
    """The targets live scoring can score: those a reading holds (the features)."""
    return [t for t in targets if t in features]


def live_scoring(model: Model, levels: Sequence[float], metrics: Metrics, *, per_sensor: bool = False,
                 publisher: Publisher | None = None,
                 anomaly_topic: str | None = None, anomaly_level: float = 0.95, anomaly_step: int = 1,
                 qos: int = 1) -> LiveScoring:
    """The service's `LiveScoring` for ``model`` (its sums registered on ``metrics``); with
    ``anomaly_topic``, anomaly flags at ``anomaly_level`` (one of ``levels``) through ``publisher``.

    Raises:
        ForecasterError: ``anomaly_level`` is not served, or ``anomaly_step`` beyond the horizon.
    """
    spec = model.spec
    keys, targets = [level_key(v) for v in levels], scored_targets(spec.features, spec.targets)
    accuracy = LiveAccuracy(targets, horizon=spec.horizon, levels=keys, per_sensor=per_sensor)
    flags = None
    if anomaly_topic is not None:
        if level_key(anomaly_level) not in keys:
            raise ForecasterError(f"--anomaly-level {level_key(anomaly_level)} is not a served interval level "
                                  f"(--interval: {', '.join(keys) or 'none'}); add --interval {level_key(anomaly_level)}")
        if not isinstance(anomaly_step, int) or not 1 <= anomaly_step <= spec.horizon:
            raise ForecasterError(f"`anomaly_step` must be in [1, {spec.horizon}] (the horizon). Received: {anomaly_step!r}")
        if publisher is None:
            raise ForecasterError("anomaly flags need a publisher")
        flags = AnomalyFlags(publisher.publish, template=anomaly_topic, level=level_key(anomaly_level),
                             step=anomaly_step, qos=qos, targets=targets, model=identity(model), step_ns=int(step_of(model.freq_).value))
    metrics.registry.register(accuracy)
    return LiveScoring(spec.features, spec.targets, horizon=spec.horizon, n_levels=len(keys), accuracy=accuracy,
                       anomalies=flags)
