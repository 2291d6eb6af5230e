"""Skill against the best baseline: ``1 - MAE_model / MAE_best_baseline`` per target and horizon
step (positive: the model wins; 0: a tie; negative: a baseline forecasts better), and the one
line that warns when a baseline beats the model somewhere, naming it and the steps."""

from __future__ import annotations

import numpy as np

from forecaster.evaluate.scores import MODEL, Evaluation

LABELS = {"naive": "naive last value", "seasonal_naive": "seasonal naive", "linear": "ridge", "autoets": "AutoETS"}
TIE = 1e-5
"""A skill above ``-TIE`` is a tie, not a loss: a model that is a baseline at some step (the
combination's weight 1) matches it only to float32's last places."""


def baselines_of(scores: dict) -> list[str]:
    """The methods scored beside the model."""
    return [m for m in scores if m != MODEL]


def best_baseline(scores: dict, metric: str = "mae") -> tuple[np.ndarray, np.ndarray]:
    """Per step and target, the best baseline's name and its ``metric`` (``(H, T)`` arrays).

    Example:
        >>> s = {"model": {"mae": np.ones((2, 1))}, "naive": {"mae": np.array([[2.0], [0.5]])},
        ...      "linear": {"mae": np.array([[1.5], [0.9]])}}
        >>> names, values = best_baseline(s)
        >>> names[:, 0].tolist(), values[:, 0].tolist()
        (['linear', 'naive'], [1.5, 0.5])
    """
    names = baselines_of(scores)
    stack = np.stack([np.where(np.isfinite(scores[m][metric]), scores[m][metric], np.inf) for m in names])
    pick = np.argmin(stack, axis=0)
    return np.asarray(names, dtype=object)[pick], np.take_along_axis(stack, pick[None], 0)[0]


def skill(scores: dict, metric: str = "mae") -> np.ndarray:
    """``1 - metric_model / metric_best_baseline`` per step and target (``(H, T)``; NaN without baselines)."""
    if not baselines_of(scores):
        return np.full(scores[MODEL][metric].shape, np.nan)
    _, best = best_baseline(scores, metric)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 1.0 - scores[MODEL][metric] / best


def overall_skill(summaries: dict[str, np.ndarray]) -> np.ndarray:
    """Per target, ``1 - MAE_model / MAE of the best baseline``, from per-target summaries
    (e.g. one sensor's horizon-averaged MAE per method)."""
    names = baselines_of(summaries)
    if not names:
        return np.full(np.shape(summaries[MODEL]), np.nan)
    best = np.min(np.stack([summaries[m] for m in names]), axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 1.0 - np.asarray(summaries[MODEL]) / best


def steps_text(steps: list[int]) -> str:
    """1-based steps as runs: ``[1, 2, 3, 7]`` -> ``"1-3, 7"``.

    Example:
        >>> steps_text([1, 2, 3, 7, 9, 10])
        '1-3, 7, 9-10'
    """
    runs: list[list[int]] = []
    for s in steps:
        if runs and s == runs[-1][-1] + 1:
            runs[-1].append(s)
        else:
            runs.append([s])
    return ", ".join(str(r[0]) if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs)


def loss_warning(result: Evaluation) -> str | None:
    """One line naming, per target, each baseline that beats the model and the steps where it does,
    by more than a tie (`TIE`) (``None`` when the model is at least as good everywhere).

    Example:
        >>> s = {"model": {"mae": np.array([[1.0], [1.0], [1.0]])}, "linear": {"mae": np.array([[0.8], [0.9], [2.0]])}}
        >>> loss_warning(Evaluation(["OT"], 3, 24, 5, s))
        'warning: a baseline beats the model: OT: ridge at steps 1-2 of 3 (skill down to -0.25)'
    """
    names, _ = best_baseline(result.scores) if baselines_of(result.scores) else (None, None)
    if names is None:
        return None
    scores = skill(result.scores)
    parts = []
    for j, target in enumerate(result.targets):
        lost = scores[:, j] < -TIE
        if not lost.any():
            continue
        by_name = {}
        for h in np.flatnonzero(lost):
            by_name.setdefault(names[h, j], []).append(int(h) + 1)
        text = ", ".join(f"{LABELS.get(n, n)} at steps {steps_text(s)}" for n, s in by_name.items())
        parts.append(f"{target}: {text} of {result.horizon} (skill down to {np.nanmin(scores[lost, j]):.2f})")
    return "warning: a baseline beats the model: " + "; ".join(parts) if parts else None


def skill_line(result: Evaluation) -> str:
    """Per target, the skill over the whole horizon and the best baseline's name there.

    Example:
        >>> s = {"model": {"mae": np.array([[1.0], [1.0]])}, "linear": {"mae": np.array([[2.0], [2.0]])}}
        >>> skill_line(Evaluation(["OT"], 2, 24, 5, s))
        'skill against the best baseline over the horizon (1 - MAE / its MAE): OT 0.5 (best baseline: ridge)'
    """
    if not baselines_of(result.scores):
        return "skill: no baseline to compare with"
    names = baselines_of(result.scores)
    means = {m: np.nanmean(result.scores[m]["mae"], axis=0) for m in [MODEL, *names]}
    scores = overall_skill(means)
    best = [names[int(np.argmin([means[m][j] for m in names]))] for j in range(len(result.targets))]
    cells = ", ".join(f"{t} {scores[j]:.3g} (best baseline: {LABELS.get(best[j], best[j])})"
                      for j, t in enumerate(result.targets))
    return f"skill against the best baseline over the horizon (1 - MAE / its MAE): {cells}"
