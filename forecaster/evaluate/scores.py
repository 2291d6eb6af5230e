"""Test-split evaluation of a forecaster beside three baselines, per target and horizon step.

The bundle records its split, so `evaluate` re-derives exactly the test windows training
held out (same regularization, same split borders, no window crossing a gap or a split).
On those windows it scores the network and three baselines (naive last value, seasonal
naive, ridge regression on the window fit on the training windows, relative to the window's last
value when the targets are features) with MAE, RMSE, MAPE,
sMAPE and MASE, in sensor units. ``folds > 1`` is a rolling-origin backtest: the test span is
cut into ``folds`` consecutive blocks of forecast origins, each scored on its own; the
network is *not* refit per fold (a refit costs a full training run per fold), while the
linear baseline is refit per fold on every window that ends before the fold's first origin.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from forecaster.model import Forecaster
from pipelines.baselines import LinearWindow, detect_period, naive_last, seasonal_naive_along
from pipelines.errors import DataError, ForecasterError
from pipelines.ets import autoets_along, ets_available
from pipelines.metrics import coverage, mae, mape, mase, near_zero, rmse, smape, winkler
from pipelines.series import prepare
from pipelines.split import TEST, TRAIN, split_labels
from pipelines.windows import WindowSpec, gather, starts_by_label

log = logging.getLogger(__name__)

METRICS = ("mae", "rmse", "mape", "smape", "mase")
MODEL = "model"
BASELINES = ("naive", "seasonal_naive", "linear")
ETS = "autoets"  # beside them when statsforecast is installed (`forecaster[baselines]`)
ETS_SEASONS = 8  # AutoETS runs its fitted model over this many seasons before each origin (at least the window)
EXAMPLES = 4  # test windows kept for plots


@dataclass(frozen=True)
class Windows:
    """Raw (sensor-unit) windows of one split with their forecast origins.

    ``X: (n, L, F)`` features, ``y: (n, H, T)`` targets, ``history: (n, L, T)`` the targets'
    own past (for the naive baseline and plots), ``origin`` the time of each window's last input row.
    """

    X: np.ndarray
    y: np.ndarray
    history: np.ndarray
    origin: np.ndarray
    seasonal: np.ndarray | None = None  # (n, H, T) seasonal naive forecasts, looked up along the series
    seasoned: np.ndarray | None = None  # (n,) False where less than a season preceded the origin (naive used)
    sensor: np.ndarray | None = None  # (n,) the sensor of each window
    ets: np.ndarray | None = None  # (n, H, T) AutoETS forecasts (test windows, with statsforecast installed)


def summarise(values: np.ndarray, metric: str) -> np.ndarray:
    """A metric's ``(horizon, n_targets)`` per-step values over all steps, per target: the mean
    (steps where MAPE is undefined left out), the root mean square for RMSE.

    Example:
        >>> summarise(np.array([[3.0], [4.0]]), "rmse").round(4).tolist(), summarise(np.array([[1.0], [np.nan]]), "mape")
        ([3.5355], array([1.]))
    """
    if metric == "rmse":
        return np.sqrt(np.mean(values**2, axis=0))
    finite = np.isfinite(values)
    count = finite.sum(axis=0)
    total = np.where(finite, values, 0.0).sum(axis=0)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


@dataclass
class Evaluation:
    """Scores per method (`MODEL` and `BASELINES`), metric, horizon step and target.

    ``scores[method][metric]`` is an array ``(horizon, n_targets)``; `summary` averages the
    steps. ``folds`` holds the same summaries per backtest fold; ``examples`` a few test windows
    (``history``, ``actual`` and each method's forecast) for plots; ``by_sensor`` (when asked
    for) the summaries of each sensor's own test windows.
    """

    targets: list[str]
    horizon: int
    period: int
    windows: int
    scores: dict[str, dict[str, np.ndarray]]
    folds: list[dict[str, Any]] = field(default_factory=list)
    examples: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    seasonal_fallback: int = 0  # test windows with less than a season of history: their seasonal naive is naive
    by_sensor: dict[str, dict[str, Any]] = field(default_factory=dict)
    intervals: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    """Per calibrated level (``"0.95"``), the model's ``coverage``, mean ``width`` and ``winkler``
    score, each ``(horizon, n_targets)``."""

    def summary(self, method: str, metric: str) -> np.ndarray:
        """The metric over all horizon steps, per target (see `summarise`)."""
        return summarise(self.scores[method][metric], metric)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (NaN as null)."""

        def clean(a: np.ndarray) -> Any:
            return [[None if not np.isfinite(v) else float(v) for v in row] for row in np.atleast_2d(a)]

        def per_target(summaries: dict[str, np.ndarray]) -> dict[str, dict[str, float | None]]:
            return {k: dict(zip(self.targets, clean(summaries[k])[0])) for k in METRICS}

        return {
            "targets": self.targets,
            "horizon": self.horizon,
            "seasonal_period": self.period,
            "test_windows": self.windows,
            "seasonal_fallback_windows": self.seasonal_fallback,
            "summary": {m: per_target({k: self.summary(m, k) for k in METRICS}) for m in self.scores},
            "per_step": {m: {k: clean(v) for k, v in s.items()} for m, s in self.scores.items()},
            "folds": self.folds,
            "intervals": {level: {"summary": {k: dict(zip(self.targets, clean(v.mean(axis=0))[0])) for k, v in s.items()},
                                  "per_step": {k: clean(v) for k, v in s.items()}} for level, s in self.intervals.items()},
            **({"by_sensor": {sensor: {"windows": entry["windows"], **{m: per_target(entry[m]) for m in self.scores}}
                              for sensor, entry in self.by_sensor.items()}} if self.by_sensor else {}),
        }


def split_windows(
    model: Forecaster, frame: pd.DataFrame, *, period: int | None = None
) -> tuple[dict[int, Windows], dict[str, tuple]]:
    """Raw windows by split label, as `Forecaster.fit` cut them, and per sensor the training
    ``(slots, target values)`` (for MASE and the season). Each window carries its seasonal naive
    forecast for ``period`` (detected when ``None``, see `season`)."""
    windows, train_targets, _ = _split(model, frame, period)
    return windows, train_targets


def _split(model: Forecaster, frame: pd.DataFrame, period: int | None, *,
           autoets: bool = True) -> tuple[dict[int, Windows], dict, int]:
    spec: WindowSpec = model.spec
    time_col, sensor_col = model._columns_of(frame)
    data = prepare(frame, spec.columns, freq=model.freq_, max_gap=model.max_gap, time_col=time_col,
                   sensor_col=sensor_col)
    split = model.split_
    if not split.explicit:
        log.warning("the bundle records no split borders (an older bundle): the test split is re-derived from "
                    "this file's time span, so it may overlap the rows the model trained on")
    borders = split.borders(data)
    tidx = list(spec.target_index)
    labels = {sensor: split_labels(series.slots, borders) for sensor, series in data.series.items()}
    train_targets = {sensor: (series.slots[labels[sensor] == TRAIN], series.values[labels[sensor] == TRAIN][:, tidx])
                     for sensor, series in data.series.items()}
    period = season(model, train_targets, period)
    parts: dict[int, list[tuple]] = {}
    with_ets = autoets and ets_available()
    if autoets and not with_ets:
        log.info("AutoETS baseline left out: statsforecast is not installed (pip install 'iot-forecaster[baselines]')")
    for sensor, series in data.series.items():
        for label, starts in starts_by_label(series.segment, labels[sensor], spec.window_length, spec.stride).items():
            if len(starts):
                cut = _cut(model, series, data.times(sensor), starts, period, sensor)
                ets = (autoets_along(series.values[:, tidx], series.segment, np.flatnonzero(labels[sensor] == TRAIN),
                                     starts + spec.input_steps - 1, spec.horizon, period,
                                     context=max(spec.input_steps, ETS_SEASONS * period))
                       if with_ets and label == TEST and (labels[sensor] == TRAIN).sum() > 2 * period else None)
                parts.setdefault(label, []).append((*cut, ets))
    windows = {label: Windows(*(np.concatenate([it[k] for it in items]) for k in range(7)),
                              ets=_all_or_none([it[7] for it in items])) for label, items in parts.items()}
    return windows, train_targets, period


def _all_or_none(parts: list[np.ndarray | None]) -> np.ndarray | None:
    """The parts concatenated, or None when any is missing."""
    return None if any(p is None for p in parts) else np.concatenate(parts)


def _cut(model: Forecaster, series: Any, times: pd.DatetimeIndex, starts: np.ndarray, period: int,
         sensor: str) -> tuple:
    """The `Windows` fields of one sensor's windows starting at ``starts``."""
    spec = model.spec
    tidx, fidx = list(spec.target_index), list(spec.feature_index)
    L, H = spec.input_steps, spec.horizon
    inputs = gather(series.values, starts, L)
    origins = starts + L - 1
    seasonal, seasoned = seasonal_naive_along(series.values[:, tidx], series.segment, origins, H, period)
    return (inputs[:, :, fidx], gather(series.values, starts, H, L)[:, :, tidx], inputs[:, :, tidx],
            np.asarray(times[origins]), seasonal, seasoned, np.full(len(starts), sensor, dtype=object))


def season(model: Forecaster, train_targets: dict[str, tuple], period: int | None) -> int:
    """``period`` checked, or the season detected on the longest training series: a day for
    sub-daily cadences, a week for daily data (`pipelines.baselines.detect_period`), whatever
    the window length, as long as the training series holds two seasons."""
    if period is not None:
        if isinstance(period, bool) or not isinstance(period, (int, np.integer)) or period < 1:
            raise ForecasterError(f"`period` must be a positive integer. Received: period={period!r}")
        return int(period)
    longest = max((v for _, v in train_targets.values()), key=len)
    max_period = max(model.spec.input_steps, len(longest) // 2)
    return detect_period(longest[:, 0] if len(longest) else np.zeros(0), model.freq_, max_period)


def _mase_scale(train_targets: dict[str, tuple], period: int, n_targets: int) -> np.ndarray:
    """In-sample seasonal naive MAE of the training rows: pairs of slots exactly ``period``
    apart, pooled over sensors (never across a cut gap or two sensors)."""
    diffs = []
    for slots, values in train_targets.values():
        j = np.searchsorted(slots, slots + period)
        ok = (j < len(slots)) & (slots[np.minimum(j, len(slots) - 1)] == slots + period) if len(slots) else j > 0
        diffs.append(np.abs(values[j[ok]] - values[ok]))
    pooled = np.concatenate(diffs) if diffs else np.zeros((0, n_targets))
    return pooled.mean(axis=0) if len(pooled) else np.full(n_targets, np.nan)


def _mape_guard(train_targets: dict[str, tuple], test_actual: np.ndarray) -> np.ndarray:
    """Per target, 5 % of its mean absolute value over the training rows (the test windows'
    values only when there are no training rows): a fixed threshold, whichever file is scored."""
    pooled = [values for _, values in train_targets.values() if len(values)]
    if pooled:
        return near_zero(np.concatenate(pooled), axis=0)
    return near_zero(test_actual, axis=(0, 1))


def _scores(actual: np.ndarray, predicted: np.ndarray, scale: np.ndarray, guard: np.ndarray) -> dict[str, np.ndarray]:
    return {
        "mae": mae(actual, predicted, axis=0),
        "rmse": rmse(actual, predicted, axis=0),
        # readings within `guard` of zero (5 % of the target's mean absolute value) are left out
        "mape": mape(actual, predicted, axis=0, eps=guard),
        "smape": smape(actual, predicted, axis=0),
        "mase": mase(actual, predicted, scale, axis=0),
    }


def forecasts(model: Forecaster, test: Windows, linear: LinearWindow | None) -> dict[str, np.ndarray]:
    """The network's and the baselines' forecasts on the same windows, in sensor units."""
    H = model.spec.horizon
    out = {MODEL: model.predict_windows(test.X, sensors=test.sensor, ends=test.origin), "naive": naive_last(test.history, H),
           "seasonal_naive": test.seasonal}
    if linear is not None:
        out["linear"] = _linear_forecast(model, linear, test.X)
    if test.ets is not None:
        out[ETS] = test.ets
    return out


def _linear_forecast(model: Forecaster, linear: LinearWindow, X: np.ndarray) -> np.ndarray:
    spec = model.spec
    return model.scaler_.inverse_transform(linear.predict(model.scaler_.transform(X, spec.feature_index)),
                                           spec.target_index)


def _fit_linear(model: Forecaster, windows: Windows, alpha: float) -> LinearWindow | None:
    if len(windows.X) == 0:
        return None
    spec = model.spec
    last = [spec.features.index(t) for t in spec.targets] if set(spec.targets) <= set(spec.features) else None
    return LinearWindow(alpha=alpha, last_index=last).fit(model.scaler_.transform(windows.X, spec.feature_index),
                                         model.scaler_.transform(windows.y, spec.target_index))


def evaluate(
    model: Forecaster, frame: pd.DataFrame, *, period: int | None = None, folds: int = 1, alpha: float = 1.0,
    by_sensor: bool = False, autoets: bool = True,
) -> Evaluation:
    """Score ``model`` and the baselines on the test split of ``frame``.

    Args:
        model: a fitted forecaster (e.g. `forecaster.load(bundle)`).
        frame: the data it was trained on (or the same series, longer).
        period: season length in steps for the seasonal naive and MASE, any length (the
            seasonal naive looks back along the series, not only inside the window); ``None``
            detects it (see `season`).
        folds: rolling-origin backtest folds over the test span (1: none).
        alpha: ridge penalty of the linear baseline.
        by_sensor: also score each sensor on its own test windows (``Evaluation.by_sensor``).
        autoets: score AutoETS too when statsforecast is installed (its per-window runs are the
            slow part; off: the other baselines only).

    Returns:
        An `Evaluation`.

    Raises:
        DataError: no test window in ``frame``.
        ForecasterError: a bad ``folds`` or ``period``, or a ``period`` longer than the history
            before every test window.
    """
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 1:
        raise ForecasterError(f"`folds` must be a positive integer. Received: folds={folds!r}")
    spec = model.spec
    windows, train_targets, season_length = _split(model, frame, period, autoets=autoets)
    test = _test_windows(model, frame, windows, folds)
    if period is not None and period > 1 and not test.seasoned.any():
        raise ForecasterError(f"`period` must leave a season of history before some test window; no test window "
                              f"has {period} regular rows before its forecast. Received: period={period}")
    scale = _mase_scale(train_targets, season_length, len(spec.targets))
    guard = _mape_guard(train_targets, test.y)
    train = windows.get(TRAIN)
    linear = _fit_linear(model, train, alpha) if train is not None else None
    if linear is None:
        log.warning("no training windows in the data: the linear baseline is left out")
    predicted = forecasts(model, test, linear)
    scores = {name: _scores(test.y, p, scale, guard) for name, p in predicted.items()}
    picks = np.unique(np.linspace(0, len(test.X) - 1, min(EXAMPLES, len(test.X))).astype(int))
    examples = {"history": test.history[picks], "actual": test.y[picks], **{k: v[picks] for k, v in predicted.items()}}
    result = Evaluation(list(spec.targets), spec.horizon, season_length, int(len(test.X)), scores, examples=examples,
                        seasonal_fallback=int((~test.seasoned).sum()))
    result.intervals = interval_scores(model, test, predicted[MODEL], picks, examples)
    if by_sensor:
        result.by_sensor = sensor_scores(test, predicted, scale, guard)
    if folds > 1:
        result.folds = backtest(model, windows, predicted, scale, guard, folds, alpha)
    return result


def interval_scores(model: Forecaster, test: Windows, forecast: np.ndarray, picks: np.ndarray,
                    examples: dict[str, np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
    """Coverage, mean width and Winkler score per horizon step and target at each calibrated level
    of the model's intervals (none for a model without them); the example windows' bands go
    into ``examples`` as ``lo <level>`` and ``hi <level>``."""
    table = getattr(model, "intervals_", None)
    out = {}
    for level in table.available if table is not None else []:
        lo, hi = model.interval_bounds(test.X, forecast, level)
        out[level] = {"coverage": coverage(test.y, lo, hi, axis=0), "width": np.mean(hi - lo, axis=0),
                      "winkler": winkler(test.y, lo, hi, float(level), axis=0)}
        examples[f"lo {level}"], examples[f"hi {level}"] = lo[picks], hi[picks]
    return out


def _test_windows(model: Forecaster, frame: pd.DataFrame, windows: dict[int, Windows], folds: int) -> Windows:
    """The test windows; none, or fewer than ``folds``, is an error."""
    test = windows.get(TEST)
    if test is None or len(test.X) == 0:
        rows = f"{model.spec.window_length} consecutive regular rows"
        where = (f"the test split starts at {model.split_.val_end}, and the file holds no {rows} from there"
                 if model.split_.val_end is not None else f"the test split holds no {rows}")
        raise DataError(f"no test window: {where}", source=frame.attrs.get("source"))
    if folds > len(test.X):
        raise ForecasterError(f"`folds` must be at most the number of test windows ({len(test.X)}). "
                              f"Received: folds={folds}")
    return test


def sensor_scores(test: Windows, predicted: dict[str, np.ndarray], scale: np.ndarray,
                  guard: np.ndarray) -> dict[str, dict[str, Any]]:
    """Per sensor, on its own test windows: ``{"windows": n, method: {metric: per-target summary}}``
    (MASE scaled by the pooled training scale, as the overall table)."""
    out: dict[str, dict[str, Any]] = {}
    for sensor in dict.fromkeys(test.sensor):
        mine = test.sensor == sensor
        entry: dict[str, Any] = {"windows": int(mine.sum())}
        for name, p in predicted.items():
            per_step = _scores(test.y[mine], p[mine], scale, guard)
            entry[name] = {metric: summarise(per_step[metric], metric) for metric in METRICS}
        out[str(sensor)] = entry
    return out


def backtest(model: Forecaster, windows: dict[int, Windows], predicted: dict[str, np.ndarray],
             scale: np.ndarray, guard: np.ndarray, folds: int, alpha: float) -> list[dict[str, Any]]:
    """Rolling-origin folds over the test windows (ordered by origin): per fold, the summary
    MAE and RMSE per method and target; the linear baseline is refit on every window (of any
    split) whose target ends before the fold's first origin."""
    test = windows[TEST]
    order = np.argsort(test.origin, kind="stable")
    chunks = [c for c in np.array_split(order, folds) if len(c)]
    every = [w for w in windows.values() if len(w.X)]
    pooled = Windows(*(np.concatenate([getattr(w, f) for w in every]) for f in ("X", "y", "history", "origin")))
    step = pd.Timedelta(model.freq_)
    out = []
    for k, idx in enumerate(chunks):
        first = test.origin[idx].min()
        fold_preds = {name: p[idx] for name, p in predicted.items()}
        seen = pooled.origin + model.spec.horizon * step < first
        if seen.sum() > 0:
            sub = Windows(pooled.X[seen], pooled.y[seen], pooled.history[seen], pooled.origin[seen])
            fold_preds["linear"] = _linear_forecast(model, _fit_linear(model, sub, alpha), test.X[idx])
        fold = {"fold": k + 1, "first_origin": str(pd.Timestamp(first)), "windows": int(len(idx))}
        for name, p in fold_preds.items():
            s = _scores(test.y[idx], p, scale, guard)
            fold[name] = {"mae": np.mean(s["mae"], axis=0).tolist(), "rmse": np.sqrt(np.mean(s["rmse"] ** 2, axis=0)).tolist()}
        out.append(fold)
    return out
