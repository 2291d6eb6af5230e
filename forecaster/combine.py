"""The trained network combined with the linear baselines, so that it does not lose to them (issue 23).

Naive last value, seasonal naive and the ridge on the flattened window are all affine maps of
the scaled input window, so each is one ``(kernel, bias)`` (`Baselines`). After training, for
each target and horizon step, the forecast becomes ``(1 - w) * network + w * baseline``:

- the baseline is the one with the lowest MAE at that step on the training and validation
  windows (many windows: a season that happened to repeat in the short validation span does
  not make the seasonal naive the choice);
- ``w`` (a grid of `GRID`, 0 = the network alone) is the one with the lowest MAE of the blend on
  the validation windows, summed over the steps within `SMOOTH` of the horizon around it (by
  default the whole horizon: one weight per target), then moved toward the baseline by how few
  independent stretches of ``input + horizon`` rows the validation windows hold (`SHRINK`).

The result is the network wrapped in a `forecaster.nn.layers.Combine` layer of fixed weights
(`forecaster.nn.combine`), so everything that runs a network runs it. The ridge is fit in closed
form on the training windows, relative to each window's last value as `forecaster evaluate`'s
linear baseline is (penalty `ALPHA`), from sums of ``X^T X`` and ``X^T y`` over chunks of window
starts: the windows are never all held.

The weights are chosen on the validation windows and the conformal intervals are calibrated on
the same windows afterwards (one weight of 11 per target: measured not to cost coverage,
docs/model-options.md).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from pipelines.baselines import detect_period
from pipelines.fleet import FleetSeries
from pipelines.split import TRAIN, VALIDATION
from pipelines.windows import WindowSpec, cut

log = logging.getLogger(__name__)

ALPHA = 1.0
"""Ridge penalty on the scaled, last-value-relative window (`forecaster evaluate`'s default)."""
GRID = np.round(np.linspace(0.0, 1.0, 11), 2)
"""The baseline's weights tried per target and step (0: the network alone)."""
SMOOTH = 1.0
"""The weight of a step is chosen on the validation errors of the steps within ``SMOOTH * horizon``
of it (0: the step alone, 1: the whole horizon, one weight per target: measured the steadiest)."""
SHRINK = 4.0
"""The chosen weight is moved toward the baseline alone by ``SHRINK / (stretches + SHRINK)``, where
``stretches`` = the validation rows / (input + horizon), the independent stretches the choice rests on
(0: not moved). At long horizons a validation span holds a few such stretches, and the weight they
favour lost to the baseline alone on the test windows (ETTh1 OT at 192 and 336 steps). Of 1, 2, 4
and 8 (benchmarks/combine_rules.py, docs/model-options.md): 1 and 2 left more long-horizon cases
below the baseline alone, 8 none but 0.5 % more MAE on average on the hourly files and the fleet;
4 left ETTh1 OT at 192 steps 0.1 % below it, at +0.2 % / -0.3 % MAE on average (hourly / 15-minute
files) against no move."""


@dataclass(frozen=True)
class Baselines:
    """The baselines as affine maps of the flattened scaled window.

    Attributes:
        names: one per baseline.
        kernels: ``(K, L * F, H * T)``.
        biases: ``(K, H * T)``.
    """

    names: list[str]
    kernels: np.ndarray
    biases: np.ndarray

    def forecast(self, X: np.ndarray) -> np.ndarray:
        """``(K, n, H * T)`` forecasts of scaled windows ``X (n, L, F)``."""
        flat = X.reshape(len(X), -1)
        return np.matmul(flat[None], self.kernels) + self.biases[:, None, :]  # BLAS: 3x an einsum


def _targets_in(spec: WindowSpec) -> list[int] | None:
    """The targets' positions among the features (``None`` when some target is not a feature)."""
    return [spec.features.index(t) for t in spec.targets] if set(spec.targets) <= set(spec.features) else None


def fit_ridge(spec: WindowSpec, fleet: FleetSeries, alpha: float = ALPHA) -> tuple[np.ndarray, np.ndarray]:
    """Ridge from the flattened window to the horizon on the training windows, relative to the
    last value when the targets are features: ``(coef (L * F, H * T), intercept (H * T))``."""
    last = _targets_in(spec)
    sums: dict[str, Any] = {"n": 0, "x": 0.0, "y": 0.0, "xx": 0.0, "xy": 0.0}
    for starts in fleet.chunks(TRAIN):
        X, y = (np.asarray(a, dtype="float64") for a in cut(fleet.values, starts, spec))
        if last is not None:
            X, y = X - X[:, -1:, :], y - X[:, -1:, last]
        x, y = X.reshape(len(X), -1), y.reshape(len(y), -1)
        sums["n"] += len(x)
        sums["x"], sums["y"] = sums["x"] + x.sum(axis=0), sums["y"] + y.sum(axis=0)
        sums["xx"], sums["xy"] = sums["xx"] + x.T @ x, sums["xy"] + x.T @ y
    n = sums["n"]
    mx, my = sums["x"] / n, sums["y"] / n
    xx = sums["xx"] - n * np.outer(mx, mx)
    coef = np.linalg.solve(xx + alpha * np.eye(len(mx)), sums["xy"] - n * np.outer(mx, my))
    return coef, my - mx @ coef


def _as_affine(spec: WindowSpec, forecast: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(kernel, bias)`` of an affine map of windows, read off its forecasts of zero and the unit windows."""
    L, F = spec.input_steps, len(spec.features)
    basis = np.concatenate([np.zeros((1, L * F)), np.eye(L * F)]).reshape(-1, L, F)
    out = forecast(basis).reshape(len(basis), -1)
    return out[1:] - out[0], out[0]


def baselines(spec: WindowSpec, fleet: FleetSeries, period: int) -> Baselines:
    """Naive, seasonal naive (when ``1 < period <= input_steps``) and the ridge as affine maps."""
    L, H = spec.input_steps, spec.horizon
    last = _targets_in(spec)
    coef, intercept = fit_ridge(spec, fleet)
    maps: dict[str, Any] = {}
    if last is not None:
        maps["naive"] = lambda X: np.repeat(X[:, -1:, last], H, axis=1)
        if 1 < period <= L:
            maps["seasonal_naive"] = lambda X: X[:, L - period + np.arange(H) % period][:, :, last]

    def ridge(X: np.ndarray) -> np.ndarray:
        level = X[:, -1:, :] if last is not None else np.zeros_like(X[:, -1:, :])
        out = (X - level).reshape(len(X), -1) @ coef + intercept
        return out.reshape(len(X), H, -1) + (level[:, :, last] if last is not None else 0.0)

    maps["ridge"] = ridge
    affine = [_as_affine(spec, f) for f in maps.values()]
    return Baselines(list(maps), np.stack([k for k, _ in affine]), np.stack([b for _, b in affine]))


def baseline_errors(spec: WindowSpec, fleet: FleetSeries, base: Baselines) -> np.ndarray:
    """Summed absolute errors ``(K, H * T)`` of each baseline on the training and validation windows (scaled)."""
    errors = np.zeros((len(base.names), spec.horizon * len(spec.targets)))
    for label in (TRAIN, VALIDATION):
        for starts in fleet.chunks(label):
            X, y = cut(fleet.values, starts, spec)
            errors += np.abs(y.reshape(len(y), -1)[None] - base.forecast(X.astype("float64"))).sum(axis=1)
    return errors


def blend_errors(spec: WindowSpec, fleet: FleetSeries, network: Any, base: Baselines, pick: np.ndarray) -> np.ndarray:
    """Summed absolute errors ``(len(GRID), H * T)`` on the validation windows (scaled) of
    ``(1 - w) * network + w * baseline``, the baseline ``pick[o]`` for output ``o``."""
    errors = np.zeros((len(GRID), len(pick)))
    for starts in fleet.chunks(VALIDATION):
        X, y = cut(fleet.values, starts, spec)
        nn = np.asarray(network.predict(X, batch_size=1024, verbose=0), dtype="float64").reshape(len(X), -1)
        baseline = base.forecast(X.astype("float64"))[pick, :, np.arange(len(pick))].T
        y = y.reshape(len(y), -1).astype("float64")
        for g, w in enumerate(GRID):
            errors[g] += np.abs(y - (1 - w) * nn - w * baseline).sum(axis=0)
    return errors


def smoothed(errors: np.ndarray, targets: int, smooth: float) -> np.ndarray:
    """``errors (G, H * T)`` summed over neighbouring steps: ``round(smooth * H)`` on each side
    (0: each step alone; 1: the whole horizon)."""
    G, out = errors.shape
    H = out // targets
    half = int(round(smooth * H))
    steps = errors.reshape(G, H, targets)
    cumulative = np.concatenate([np.zeros((G, 1, targets)), np.cumsum(steps, axis=1)], axis=1)
    lo, hi = np.clip(np.arange(H) - half, 0, H), np.clip(np.arange(H) + half + 1, 0, H)
    return (cumulative[:, hi] - cumulative[:, lo]).reshape(G, out)


def stretches(spec: WindowSpec, fleet: FleetSeries) -> float:
    """The rows the validation windows cover, in stretches of ``input + horizon`` rows (each window adds
    the rows up to the next start, at most its span: any stride, sensor or gap)."""
    starts = np.sort(fleet.of(VALIDATION))
    if len(starts) == 0:
        return 0.0
    span = spec.input_steps + spec.horizon
    return float(np.minimum(np.diff(starts), span).sum() + span) / span


def shrunk(w: np.ndarray, evidence: float, shrink: float) -> np.ndarray:
    """Weights ``w`` moved toward 1 (the baseline alone) by ``shrink / (evidence + shrink)``, on `GRID`
    (unmoved without a shrink or with unlimited evidence)."""
    if shrink <= 0 or not np.isfinite(evidence):
        return w
    moved = 1.0 - (1.0 - w) * evidence / (evidence + shrink)
    return GRID[np.argmin(np.abs(GRID[:, None] - moved[None, :]), axis=0)]


def choose(pick: np.ndarray, errors: np.ndarray, base: Baselines, *, targets: int = 1, smooth: float = 0.0,
           evidence: float = np.inf, shrink: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per output (step x target) the weight of its baseline ``pick[o]`` with the lowest (smoothed)
    validation error ``errors (G, H * T)``, moved toward the baseline when the validation windows hold
    few independent stretches (`shrunk`): ``(scale, kernel, bias, weight)``; ties keep the network alone."""
    out = len(pick)
    w = GRID[np.argmin(smoothed(errors, targets, smooth), axis=0)]  # GRID[0] = 0: the network alone
    w = shrunk(w, evidence, shrink)
    kernel = base.kernels[pick, :, np.arange(out)].T * w
    bias = base.biases[pick, np.arange(out)] * w
    return 1.0 - w, kernel, bias, w


def describe(pick: np.ndarray, weight: np.ndarray, base: Baselines, spec: WindowSpec) -> str:
    """One line per target: the mean baseline weight and the baselines used."""
    T = len(spec.targets)
    parts = []
    for t, target in enumerate(spec.targets):
        k, w = pick.reshape(-1, T)[:, t], weight.reshape(-1, T)[:, t]
        used = sorted({base.names[i] for i, share in zip(k, w) if share > 0})
        parts.append(f"{target}: mean baseline weight {w.mean():.2f} ({', '.join(used) or 'network alone'})")
    return "; ".join(parts)


def _period(spec: WindowSpec, fleet: FleetSeries, freq: str | None) -> int:
    """The seasonal naive's season: a day for sub-daily cadences (`detect_period`), at most the window
    (the autocorrelation of the first target's leading rows when the cadence does not say)."""
    rows = fleet.values[:50_000, spec.columns.index(spec.targets[0])] if _targets_in(spec) else np.zeros(0)
    return detect_period(rows, freq, spec.input_steps)


def combined(estimator: Any, fleet: FleetSeries, *, smooth: float = SMOOTH, shrink: float = SHRINK) -> Any:
    """``estimator.model_`` combined with the baselines when ``params.combine`` asks for it (else unchanged).

    The network is trained; the ridge is fit on the training windows, each step's baseline chosen
    on the training and validation windows, its weight on the validation windows (without
    validation windows: the network alone, with a warning)."""
    if estimator.params.combine == "none":
        return estimator.model_
    from forecaster.nn.combine import network_of, set_weights, wrap

    spec = estimator.network_spec  # the columns the network reads (calendar inputs included), as the fleet holds them
    network = network_of(estimator.model_)
    model = wrap(network, horizon=spec.horizon, targets=len(spec.targets))
    if fleet.count(VALIDATION) == 0 or fleet.count(TRAIN) == 0:
        log.warning("no training or no validation windows: the network is not combined with the baselines")
        return model
    base = baselines(spec, fleet, _period(spec, fleet, estimator.freq_))
    pick = np.argmin(baseline_errors(spec, fleet, base), axis=0)
    errors = blend_errors(spec, fleet, network, base, pick)
    evidence = stretches(spec, fleet)
    scale, kernel, bias, weight = choose(pick, errors, base, targets=len(spec.targets), smooth=smooth,
                                         evidence=evidence, shrink=shrink)
    set_weights(model, scale.reshape(spec.horizon, -1), kernel, bias)
    log.info("combined with the baselines on %d validation windows (%.1f stretches of %d rows): %s",
             fleet.count(VALIDATION), evidence, spec.input_steps + spec.horizon, describe(pick, weight, base, spec))
    return model
