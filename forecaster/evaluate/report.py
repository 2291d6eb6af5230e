"""Evaluation output: the markdown table, the JSON file and the PNG plots."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from forecaster.evaluate.plots import legend_outside, pyplot, save
from forecaster.evaluate.scores import METRICS, MODEL, Evaluation
from forecaster.evaluate.skill import best_baseline, loss_warning, overall_skill, skill, skill_line

LABELS = {MODEL: "model", "naive": "naive last value", "seasonal_naive": "seasonal naive", "linear": "linear (ridge)",
          "autoets": "AutoETS"}
HEADERS = {"mae": "MAE", "rmse": "RMSE", "mape": "MAPE %", "smape": "sMAPE %", "mase": "MASE"}


def _fmt(value: float) -> str:
    return "n/a" if not np.isfinite(value) else f"{value:.4g}"


def summary_table(result: Evaluation) -> str:
    """One row per target and method, metrics averaged over the horizon.

    Example:
        >>> import numpy as np
        >>> scores = {m: {k: np.ones((2, 1)) for k in METRICS} for m in ("model", "naive")}
        >>> print(summary_table(Evaluation(["OT"], 2, 24, 5, scores)).splitlines()[2])
        | OT | model | 1 | 1 | 1 | 1 | 1 |
    """
    head = "| target | method | " + " | ".join(HEADERS[m] for m in METRICS) + " |"
    lines = [head, "|" + " --- |" * (len(METRICS) + 2)]
    for j, target in enumerate(result.targets):
        for method in result.scores:
            cells = " | ".join(_fmt(result.summary(method, m)[j]) for m in METRICS)
            lines.append(f"| {target} | {LABELS.get(method, method)} | {cells} |")
    return "\n".join(lines)


def interval_table(result: Evaluation) -> str:
    """One row per target and interval level: coverage, mean width and Winkler score over the horizon
    (empty when the model has no intervals).

    Example:
        >>> import numpy as np
        >>> bands = {"0.8": {"coverage": np.full((2, 1), 0.75), "width": np.ones((2, 1)), "winkler": np.full((2, 1), 3.0)}}
        >>> print(interval_table(Evaluation(["OT"], 2, 24, 5, {}, intervals=bands)).splitlines()[2])
        | OT | 0.8 | 0.75 | 1 | 3 |
    """
    if not result.intervals:
        return ""
    lines = ["| target | level | coverage | mean width | Winkler score |", "|" + " --- |" * 5]
    for j, target in enumerate(result.targets):
        for level, s in result.intervals.items():
            cells = " | ".join(_fmt(float(s[k][:, j].mean())) for k in ("coverage", "width", "winkler"))
            lines.append(f"| {target} | {level} | {cells} |")
    return "\n".join(lines)


def interval_step_table(result: Evaluation) -> str:
    """Coverage and mean width per horizon step (rows) for each target and level (columns)."""
    cols = [(t, level) for t in result.targets for level in result.intervals]
    lines = ["| step | " + " | ".join(f"{t} {level} coverage | {t} {level} width" for t, level in cols) + " |",
             "|" + " --- |" * (2 * len(cols) + 1)]
    for h in range(result.horizon):
        cells = " | ".join(f"{_fmt(result.intervals[level]['coverage'][h, result.targets.index(t)])} | "
                           f"{_fmt(result.intervals[level]['width'][h, result.targets.index(t)])}" for t, level in cols)
        lines.append(f"| {h + 1} | {cells} |")
    return "\n".join(lines)


def step_table(result: Evaluation, metric: str = "mae") -> str:
    """``metric`` per horizon step (rows) for each target and method (columns)."""
    cols = [(t, m) for t in result.targets for m in result.scores]
    lines = ["| step | " + " | ".join(f"{t} {LABELS.get(m, m)}" for t, m in cols) + " |",
             "|" + " --- |" * (len(cols) + 1)]
    for h in range(result.horizon):
        cells = " | ".join(_fmt(result.scores[m][metric][h, result.targets.index(t)]) for t, m in cols)
        lines.append(f"| {h + 1} | {cells} |")
    return "\n".join(lines)


def sensor_table(result: Evaluation) -> str:
    """One row per sensor and target (``result.by_sensor``): its test windows, each method's MAE,
    the model's RMSE and MASE, and its skill against the sensor's best baseline (negative: a
    baseline forecasts this sensor better).

    Example:
        >>> import numpy as np
        >>> one, two = {k: np.ones(1) for k in METRICS}, {k: np.full(1, 2.0) for k in METRICS}
        >>> result = Evaluation(["OT"], 2, 24, 5, {"model": {}, "naive": {}},
        ...                     by_sensor={"t1": {"windows": 5, "model": one, "naive": two}})
        >>> print(sensor_table(result).splitlines()[2])
        | t1 | OT | 5 | 1 | 2 | 1 | 1 | 0.5 |
    """
    methods = list(result.scores)
    lines = ["| sensor | target | windows | " + " | ".join(f"{LABELS.get(m, m)} MAE" for m in methods)
             + " | model RMSE | model MASE | model skill |", "|" + " --- |" * (len(methods) + 6)]
    for sensor, entry in result.by_sensor.items():
        skills = overall_skill({m: entry[m]["mae"] for m in methods if m in entry})
        for j, target in enumerate(result.targets):
            cells = [_fmt(entry[m]["mae"][j]) if m in entry else "n/a" for m in methods]
            cells += [_fmt(entry[MODEL]["rmse"][j]), _fmt(entry[MODEL]["mase"][j]), _fmt(skills[j])]
            lines.append(f"| {sensor} | {target} | {entry['windows']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def skill_step_table(result: Evaluation) -> str:
    """Per horizon step (rows), for each target: the model's skill and the best baseline there."""
    scores, (names, _) = skill(result.scores), best_baseline(result.scores)
    lines = ["| step | " + " | ".join(f"{t} skill | {t} best baseline" for t in result.targets) + " |",
             "|" + " --- |" * (2 * len(result.targets) + 1)]
    for h in range(result.horizon):
        cells = " | ".join(f"{_fmt(scores[h, j])} | {LABELS.get(names[h, j], names[h, j])}"
                           for j in range(len(result.targets)))
        lines.append(f"| {h + 1} | {cells} |")
    return "\n".join(lines)


def skill_section(result: Evaluation) -> list[str]:
    """The report's skill lines: overall skill, the loss warning (if any) and the per-step table."""
    if len(result.scores) < 2:
        return []
    return ["", "## Skill against the best baseline", "", "Skill = 1 - MAE of the model / MAE of the best baseline "
            "at that step (positive: the model wins).", "", skill_line(result),
            *(["", loss_warning(result)] if loss_warning(result) else []), "", skill_step_table(result)]


def season_note(result: Evaluation) -> str:
    """``seasonal period N``, and how many test windows had less than a season of history."""
    note = f"seasonal period {result.period}"
    if result.seasonal_fallback:
        note += (f" ({result.seasonal_fallback} of {result.windows} test windows have less than a season of "
                 "history; their seasonal naive forecast is the last value)")
    return note


def markdown_report(result: Evaluation, title: str) -> str:
    """The full report: summary, MAE by step, and backtest folds."""
    parts = [
        f"# Evaluation: {title}",
        "",
        f"{result.windows} test windows, horizon {result.horizon}, {season_note(result)}. "
        "MAE and RMSE in sensor units; MAPE leaves out zero actuals; MASE is scaled by the in-sample "
        "seasonal naive MAE of the training split.",
        "",
        summary_table(result),
        "",
        "## MAE by horizon step",
        "",
        step_table(result, "mae"),
        *skill_section(result),
    ]
    if result.intervals:
        parts += ["", "## Prediction intervals (conformal, calibrated on the validation windows)", "",
                  "Coverage: the share of test readings inside the interval (nominal: the level); width in "
                  "sensor units; the Winkler score adds 2 / (1 - level) times each miss to the width (lower is better).",
                  "", interval_table(result), "", "### Coverage and width by horizon step", "",
                  interval_step_table(result)]
    if result.by_sensor:
        parts += ["", "## By sensor", "", sensor_table(result)]
    if result.folds:
        parts += ["", "## Rolling-origin backtest (network fixed, linear baseline refit per fold)", "",
                  "| fold | first origin | windows | target | " + " | ".join(f"{LABELS.get(m, m)} MAE" for m in result.scores) + " |",
                  "|" + " --- |" * (4 + len(result.scores))]
        for fold in result.folds:
            for j, target in enumerate(result.targets):
                cells = " | ".join(_fmt(fold[m]["mae"][j]) if m in fold else "n/a" for m in result.scores)
                parts.append(f"| {fold['fold']} | {fold['first_origin']} | {fold['windows']} | {target} | {cells} |")
    return "\n".join(parts) + "\n"


def write_json(result: Evaluation, path: str | Path) -> Path:
    """The evaluation as JSON (NaN written as null)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = result.to_dict()
    if len(result.scores) > 1:
        names, _ = best_baseline(result.scores)
        data["skill"] = {"per_step": [[None if not np.isfinite(v) else float(v) for v in row]
                                      for row in skill(result.scores)],
                         "best_baseline": names.tolist(), "targets": result.targets}
    path.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n")
    return path


def plot_evaluation(result: Evaluation, path: str | Path) -> list[Path]:
    """Two PNGs: ``path`` (forecast vs actual on a few test windows, first target) and
    ``<stem>_by_step.png`` (MAE by horizon step for the model and each baseline).

    Args:
        result: the evaluation (its ``examples`` are drawn: a few windows spread over the test split).
        path: the first PNG; the second goes beside it.
    """
    path = Path(path)
    by_step = path.with_name(path.stem + "_by_step.png")
    return [save(example_figure(result), path, dpi=100), save(by_step_figure(result), by_step, dpi=100)]


def example_figure(result: Evaluation):
    """Forecasts against actuals on a few test windows (the first target), x in steps from the origin."""
    examples = result.examples
    picks = range(len(examples["actual"]))
    fig, axes = pyplot().subplots(len(picks), 1, figsize=(10, 2.6 * len(picks)), squeeze=False)
    L, H = examples["history"].shape[1], result.horizon
    for ax, i in zip(axes[:, 0], picks):
        ax.plot(np.arange(-L + 1, 1), examples["history"][i, :, 0], color="grey", label="history")
        ax.plot(np.arange(1, H + 1), examples["actual"][i, :, 0], color="black", label="actual")
        for level in sorted(result.intervals, key=float, reverse=True):  # the widest band underneath
            ax.fill_between(np.arange(1, H + 1), examples[f"lo {level}"][i, :, 0], examples[f"hi {level}"][i, :, 0],
                            color="tab:blue", alpha=0.15, label=f"model {level} interval")
        for method in result.scores:
            ax.plot(np.arange(1, H + 1), examples[method][i, :, 0], "--", label=LABELS.get(method, method))
        ax.set_title(f"{result.targets[0]}: test window example {i + 1}", fontsize=9)
        ax.set_xlabel("steps from the forecast origin (0: last observed)")
        ax.set_ylabel(result.targets[0])
        legend_outside(ax, fontsize=7)
    fig.tight_layout()
    return fig


def by_step_figure(result: Evaluation):
    """MAE by horizon step of the model and each baseline, one panel per target."""
    H = result.horizon
    fig, axes = pyplot().subplots(1, len(result.targets), figsize=(6 * len(result.targets), 3.5), squeeze=False)
    for j, (ax, target) in enumerate(zip(axes[0], result.targets)):
        for method in result.scores:
            ax.plot(np.arange(1, H + 1), result.scores[method]["mae"][:, j], marker=".", label=LABELS.get(method, method))
        ax.set_xlabel("horizon step")
        ax.set_ylabel(f"MAE of {target}")
        ax.set_title(f"{target}: error by horizon step", fontsize=9)
        legend_outside(ax, fontsize=7)
    fig.tight_layout()
    return fig
