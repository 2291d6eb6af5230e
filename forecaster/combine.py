"""The trained network combined with the linear baselines, so that it does not lose to them (issue 23).

Naive last value, seasonal naive and the ridge on the flattened window are all affine maps of
the scaled input window, so each is one ``(kernel, bias)`` (`Baselines`). After training, for
each target and horizon step, the forecast becomes ``(1 - w) * network + w * baseline``:

- the baseline is the one with the lowest MAE at that step on the training and validation
  windows (many windows: a season that happened to repeat in the short validation span does
  not make the seasonal naive the choice);
- ``w`` (a grid of `GRID`, 0 = the network alone) is the largest whose validation MAE of the
  blend, over the steps within `SMOOTH` of the horizon around it (by default the whole horizon:
  one weight per target), is within one standard error of the lowest (the one-standard-error
  rule, the baseline alone being the simpler model; the error over `BLOCKS` contiguous blocks
  of validation windows). At long horizons the validation span holds few independent stretches
  of ``input + horizon`` rows, and the weight with the lowest validation MAE lost to the baseline
  alone on the test windows (`one_standard_error`).

When the network reads calendar columns (``calendar``), the ridge reads the features alone, as
`forecaster evaluate`'s does, unless the ridge that also reads the calendar columns has the lower
validation MAE for that target (`with_calendar_ridge`: on the training windows, which fit it, the ridge
with more inputs always looks better).

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
BLOCKS = 10
"""The validation windows are cut into this many contiguous blocks (fewer with fewer windows) for the
standard error of a weight's validation MAE. Of the rules measured for the weight
(benchmarks/combine_rules.py, docs/model-options.md: the lowest validation MAE, that weight moved
toward the baseline by 1, 2, 4 or 8 / (stretches + c), a significance test, the plain average), only
this one left no case below the baseline alone on the test windows (ETT S and M at 24 to 720 steps,
the fleet and the shipped file). Its cost: where the network is strong on one series at short
horizons, up to 2.6 % MAE against the lowest validation MAE (ETTm2 OT at 24 steps); M and the fleet
-0.3 % to +0.6 %."""


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


def fit_ridge(spec: WindowSpec, fleet: FleetSeries, alpha: float = ALPHA,
              inputs: list[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Ridge from the flattened window (its feature columns ``inputs``, default all) to the horizon on
    the training windows, relative to the last value when the targets are features:
    ``(coef (L * len(inputs), H * T), intercept (H * T))``."""
    last = _targets_in(spec)
    sums: dict[str, Any] = {"n": 0, "x": 0.0, "y": 0.0, "xx": 0.0, "xy": 0.0}
    for starts in fleet.chunks(TRAIN):
        X, y = (np.asarray(a, dtype="float64") for a in cut(fleet.values, starts, spec))
        if last is not None:
            X, y = X - X[:, -1:, :], y - X[:, -1:, last]
        X = X if inputs is None else X[:, :, inputs]
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


def baselines(spec: WindowSpec, fleet: FleetSeries, period: int, inputs: list[int] | None = None) -> Baselines:
    """Naive, seasonal naive (when ``1 < period <= input_steps``) and the ridge on the feature columns
    ``inputs`` (default all) as affine maps of the whole window (zero on the columns not read)."""
    L, H = spec.input_steps, spec.horizon
    last = _targets_in(spec)
    coef, intercept = fit_ridge(spec, fleet, inputs=inputs)
    maps: dict[str, Any] = {}
    if last is not None:
        maps["naive"] = lambda X: np.repeat(X[:, -1:, last], H, axis=1)
        if 1 < period <= L:
            maps["seasonal_naive"] = lambda X: X[:, L - period + np.arange(H) % period][:, :, last]

    def ridge(X: np.ndarray) -> np.ndarray:
        level = X[:, -1:, :] if last is not None else np.zeros_like(X[:, -1:, :])
        read = X - level if inputs is None else (X - level)[:, :, inputs]
        out = read.reshape(len(X), -1) @ coef + intercept
        return out.reshape(len(X), H, -1) + (level[:, :, last] if last is not None else 0.0)

    maps["ridge"] = ridge
    affine = [_as_affine(spec, f) for f in maps.values()]
    return Baselines(list(maps), np.stack([k for k, _ in affine]), np.stack([b for _, b in affine]))


def baseline_errors(spec: WindowSpec, fleet: FleetSeries, base: Baselines,
                    labels: tuple[int, ...] = (TRAIN, VALIDATION)) -> np.ndarray:
    """Summed absolute errors ``(K, H * T)`` of each baseline on the windows of the splits ``labels``
    (by default the training and validation windows the choice is made on; scaled)."""
    errors = np.zeros((len(base.names), spec.horizon * len(spec.targets)))
    for label in labels:
        for starts in fleet.chunks(label):
            X, y = cut(fleet.values, starts, spec)
            errors += np.abs(y.reshape(len(y), -1)[None] - base.forecast(X.astype("float64"))).sum(axis=1)
    return errors


def blend_errors(spec: WindowSpec, fleet: FleetSeries, network: Any, base: Baselines, pick: np.ndarray) -> np.ndarray:
    """Mean absolute errors ``(B, len(GRID), H * T)`` (scaled) of ``(1 - w) * network + w * baseline``,
    the baseline ``pick[o]`` for output ``o``, on each of ``B`` = min(`BLOCKS`, windows) contiguous
    blocks of the validation windows (in `FleetSeries.chunks` order: by sensor, then time)."""
    total = fleet.count(VALIDATION)
    blocks = max(1, min(BLOCKS, total))
    block_of = np.repeat(np.arange(blocks), [len(b) for b in np.array_split(np.arange(total), blocks)])
    sums, seen = np.zeros((blocks, len(GRID), len(pick))), 0
    for starts in fleet.chunks(VALIDATION):
        X, y = cut(fleet.values, starts, spec)
        nn = np.asarray(network.predict(X, batch_size=1024, verbose=0), dtype="float64").reshape(len(X), -1)
        baseline = base.forecast(X.astype("float64"))[pick, :, np.arange(len(pick))].T
        y = y.reshape(len(y), -1).astype("float64")
        block = block_of[seen:seen + len(X)]
        seen += len(X)
        parts = [(b, block == b) for b in np.unique(block)]  # the blocks this chunk's windows fall in
        for g, w in enumerate(GRID):
            error = np.abs(y - (1 - w) * nn - w * baseline)
            for b, rows in parts:
                sums[b, g] += error[rows].sum(axis=0)
    return sums / np.bincount(block_of, minlength=blocks)[:, None, None]


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


def one_standard_error(errors: np.ndarray) -> np.ndarray:
    """Per output, the index in `GRID` of the largest weight whose mean error over the blocks
    ``errors (B, G, outputs)`` exceeds the lowest by at most one standard error of the blocks'
    differences to it (with one block, no error to judge by: the baseline alone)."""
    B, G, out = errors.shape
    if B < 2:
        return np.full(out, G - 1)
    mean = errors.mean(axis=0)
    best = np.argmin(mean, axis=0)  # ties: the lower weight
    diff = errors - errors[:, best, np.arange(out)][:, None, :]
    close = diff.mean(axis=0) <= diff.std(axis=0, ddof=1) / np.sqrt(B)
    return G - 1 - np.argmax(close[::-1], axis=0)  # close[best] holds: there is always one


def choose(pick: np.ndarray, errors: np.ndarray, base: Baselines, *, targets: int = 1,
           smooth: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per output (step x target) the weight of its baseline ``pick[o]`` by the one-standard-error rule
    on the (smoothed) validation errors ``errors (B, G, H * T)`` of ``B`` blocks
    (`one_standard_error`): ``(scale, kernel, bias, weight)``."""
    out = len(pick)
    per_block = np.stack([smoothed(e, targets, smooth) for e in errors])
    w = GRID[one_standard_error(per_block)]
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


def with_calendar_ridge(spec: WindowSpec, fleet: FleetSeries, base: Baselines, period: int) -> tuple[Baselines, np.ndarray]:
    """``base`` (its ridge on the features) with, for each target whose validation MAE it lowers, the ridge
    that also reads the calendar columns of ``spec``; and which targets took it (``(T,)`` booleans).
    Chosen on the validation windows alone: on the training windows the ridge with more inputs always
    looks better (they fit it)."""
    calendar = baselines(spec, fleet, period)
    k = base.names.index("ridge")
    pair = Baselines(["ridge", "calendar ridge"], np.stack([base.kernels[k], calendar.kernels[k]]),
                     np.stack([base.biases[k], calendar.biases[k]]))
    T = len(spec.targets)
    per_target = baseline_errors(spec, fleet, pair, (VALIDATION,)).reshape(2, spec.horizon, T).sum(axis=1)
    takes = per_target[1] < per_target[0]
    outputs = np.tile(takes, spec.horizon)  # output o is step o // T of target o % T
    kernels, biases = base.kernels.copy(), base.biases.copy()
    kernels[k][:, outputs], biases[k][outputs] = calendar.kernels[k][:, outputs], calendar.biases[k][outputs]
    return Baselines(base.names, kernels, biases), takes


def combined(estimator: Any, fleet: FleetSeries, *, smooth: float = SMOOTH, calendar_ridge: bool | None = None) -> Any:
    """``estimator.model_`` combined with the baselines when ``params.combine`` asks for it (else unchanged).

    The network is trained; the ridge is fit on the training windows, each step's baseline chosen
    on the training and validation windows, its weight on the validation windows (without
    validation windows: the network alone, with a warning). When the network reads calendar
    columns, each target's ridge reads them too where that lowers its validation MAE
    (`with_calendar_ridge`; ``calendar_ridge`` True or False: always or never, for benchmarks)."""
    if estimator.params.combine == "none":
        return estimator.model_
    from forecaster.nn.combine import network_of, set_weights, wrap

    spec = estimator.network_spec  # the columns the network reads (calendar inputs included), as the fleet holds them
    network = network_of(estimator.model_)
    model = wrap(network, horizon=spec.horizon, targets=len(spec.targets))
    if fleet.count(VALIDATION) == 0 or fleet.count(TRAIN) == 0:
        log.warning("no training or no validation windows: the network is not combined with the baselines")
        return model
    period = _period(spec, fleet, estimator.freq_)
    reads_calendar = spec != estimator.spec
    features = list(range(len(estimator.spec.features)))
    base = baselines(spec, fleet, period, inputs=features if reads_calendar and calendar_ridge is not True else None)
    takes = np.full(len(spec.targets), reads_calendar and calendar_ridge is True)
    if reads_calendar and calendar_ridge is None:
        base, takes = with_calendar_ridge(spec, fleet, base, period)
    pick = np.argmin(baseline_errors(spec, fleet, base), axis=0)
    errors = blend_errors(spec, fleet, network, base, pick)
    scale, kernel, bias, weight = choose(pick, errors, base, targets=len(spec.targets), smooth=smooth)
    set_weights(model, scale.reshape(spec.horizon, -1), kernel, bias)
    log.info("combined with the baselines on %d validation windows (%d blocks, one-standard-error rule): %s%s",
             fleet.count(VALIDATION), len(errors), describe(pick, weight, base, spec),
             "; the ridge reads the calendar columns for " + ", ".join(np.asarray(spec.targets)[takes]) if takes.any() else "")
    return model
