"""How to choose the combination's weight: rules scored on the test windows of the same networks (issue 23).

`forecaster.combine` blends each target's forecast as ``(1 - w) * network + w * baseline`` and
chooses ``w`` (0, 0.1, ..., 1) on the validation windows. At long horizons the validation span
holds few independent stretches of ``input + horizon`` rows, and the weight with the lowest
validation MAE can lose to the baseline alone on the test windows. This script trains the default network
(``combine="none"``) per case and seed, keeps each validation and test window's error for every
weight (scaled units, mean over the horizon, per target; cached as ``.npz`` in ``--cache``), and
scores rules that choose ``w`` from the validation errors alone:

- ``lowest``: the lowest validation MAE (the first version of `forecaster.combine`);
- ``1-SE``: the largest ``w`` within one standard error (over 10 contiguous blocks of validation
  windows) of the lowest (Breiman's one-standard-error rule, the baseline as the simpler model;
  what `forecaster.combine` ships, `one_standard_error`);
- ``shrink c``: the lowest's weight moved toward the baseline alone by ``c / (n_eff + c)``, where
  ``n_eff`` = validation rows / (input + horizon), the independent stretches the choice rests on
  (shipped with ``c = 4`` before the one-standard-error rule);
- ``significant``: the lowest's weight only where its validation MAE beats the baseline alone's by
  more than one standard error over ``n_eff`` contiguous blocks, else the baseline alone;
- ``fixed 0.5``: the plain average.

Prints per case the test MAE (scaled, mean ± standard error over seeds) of the baseline alone
(``w = 1``: each step's baseline chosen on the training and validation windows, as shipped) and
of each rule, with the weights chosen, and a summary: per rule, the cases where it is worse than
the baseline alone by more than one standard error and its mean MAE relative to ``lowest``.

Example (``--epochs 12`` for the M cases, as in skill.py's grid):
    python benchmarks/combine_rules.py --cases ETTh1:S:24,ETTh1:S:192 --seeds 3
"""

from __future__ import annotations

import math
import sys
import time
from functools import partial
from pathlib import Path

import click
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from skill import load  # noqa: E402

from forecaster.combine import BLOCKS, GRID, one_standard_error  # noqa: E402
from pipelines.split import VALIDATION  # noqa: E402

SHRINKS = (1, 2, 4, 8)


def window_errors(name: str, features: str, horizon: int, seed: int, epochs: int, input_steps: int,
                  data_dir: Path, max_train_rows: int | None, training: dict[str, float]) -> dict[str, np.ndarray]:
    """Train the default network alone; per validation / test window, weight and target, the MAE
    over the horizon of ``(1 - w) * network + w * baseline`` (scaled)."""
    from forecaster import train
    from forecaster.combine import _period, baseline_errors, baselines
    from pipelines.split import TEST
    from pipelines.windows import WindowSpec, cut

    frame, feats, targets = load(name, features, data_dir, max_train_rows)
    spec = WindowSpec(input_steps=input_steps, horizon=horizon, features=feats, targets=targets)
    start = time.perf_counter()
    model = train(frame, spec, epochs=epochs, seed=seed, combine="none", intervals=(), **training)
    seconds = time.perf_counter() - start
    fleet, nspec = model._prepare(frame), model.network_spec
    base = baselines(nspec, fleet, _period(nspec, fleet, model.freq_))
    pick = np.argmin(baseline_errors(nspec, fleet, base), axis=0)
    out: dict[str, np.ndarray] = {"seconds": np.array(seconds), "epochs": np.array(len(model.history_["loss"])),
                                  "stretches": np.array(stretches(nspec, fleet))}
    for key, label in (("val", VALIDATION), ("test", TEST)):
        parts = []
        for starts in fleet.chunks(label):
            X, y = cut(fleet.values, starts, nspec)
            net = np.asarray(model.model_.predict(X, batch_size=1024, verbose=0), dtype="float64").reshape(len(X), -1)
            baseline = base.forecast(X.astype("float64"))[pick, :, np.arange(len(pick))].T
            y = y.reshape(len(y), -1).astype("float64")
            parts.append(np.stack([np.abs(y - (1 - w) * net - w * baseline).reshape(len(y), horizon, -1).mean(axis=1)
                                   for w in GRID], axis=1))
        out[key] = np.concatenate(parts)  # (windows, len(GRID), targets)
    return out


def stretches(spec, fleet) -> float:
    """The rows the validation windows cover, in stretches of ``input + horizon`` rows (each window adds
    the rows up to the next start, at most its span: any stride, sensor or gap)."""
    starts = np.sort(fleet.of(VALIDATION))
    if len(starts) == 0:
        return 0.0
    span = spec.input_steps + spec.horizon
    return float(np.minimum(np.diff(starts), span).sum() + span) / span


def lowest(val: np.ndarray, **_) -> np.ndarray:
    """Per target, the grid index of the lowest validation MAE (ties: the lower weight)."""
    return np.argmin(val.mean(axis=0), axis=0)


def one_se(val: np.ndarray, **_) -> np.ndarray:
    """Per target, the largest weight whose validation MAE is within one block standard error of the
    lowest (`forecaster.combine.one_standard_error`, on `BLOCKS` contiguous blocks as shipped)."""
    return one_standard_error(np.stack([b.mean(axis=0) for b in np.array_split(val, min(BLOCKS, len(val)))]))


def shrink(val: np.ndarray, *, c: float, evidence: float, **_) -> np.ndarray:
    """The lowest's weight moved toward 1 by ``c / (evidence + c)``, snapped to `GRID`."""
    moved = 1.0 - (1.0 - GRID[lowest(val)]) * evidence / (evidence + c)
    return np.argmin(np.abs(GRID[:, None] - moved[None, :]), axis=0)


def significant(val: np.ndarray, *, span: int, **_) -> np.ndarray:
    """Per target, the lowest's weight when its validation MAE beats the baseline alone's by more than
    one standard error over ``n_eff`` contiguous blocks (one per independent stretch), else the baseline alone."""
    blocks_n = int((len(val) + span - 1) // span)
    chosen = lowest(val)
    if blocks_n < 2:
        return np.full_like(chosen, len(GRID) - 1)
    blocks = np.stack([b.mean(axis=0) for b in np.array_split(val, blocks_n)])  # (B, G, T)
    for t, g in enumerate(chosen):
        diff = blocks[:, -1, t] - blocks[:, g, t]
        if diff.mean() <= diff.std(ddof=1) / math.sqrt(blocks_n):
            chosen[t] = len(GRID) - 1
    return chosen


def fixed_half(val: np.ndarray, **_) -> np.ndarray:
    return np.full(val.shape[2], int(np.argmin(np.abs(GRID - 0.5))))


RULES = {"lowest": lowest, "1-SE": one_se,
         **{f"shrink {c}": partial(shrink, c=c) for c in SHRINKS}, "significant": significant,
         "fixed 0.5": fixed_half}


def test_mae(test: np.ndarray, chosen: np.ndarray) -> float:
    return float(np.mean([test[:, g, t].mean() for t, g in enumerate(chosen)]))


def mean_se(values: list[float]) -> tuple[float, float]:
    return float(np.mean(values)), float(np.std(values, ddof=1) / math.sqrt(len(values))) if len(values) > 1 else 0.0


@click.command()
@click.option("--cases", required=True, help="Comma-separated dataset:features:horizon, e.g. ETTh1:S:192,fleet:X:24.")
@click.option("--seeds", default=3, show_default=True, type=click.IntRange(min=1))
@click.option("--epochs", default=30, show_default=True, type=click.IntRange(min=1))
@click.option("--input-steps", default=96, show_default=True, type=click.IntRange(min=1))
@click.option("--max-train-rows", default=None, type=click.IntRange(min=100),
              help="As in skill.py (12000 for ETTm1/ETTm2 there).")
@click.option("--data-dir", default=str(ROOT.parent / "shared" / "data" / "ett"), show_default=True,
              type=click.Path(file_okay=False, path_type=Path))
@click.option("--cache", default="/tmp/combine_rules", show_default=True, type=click.Path(file_okay=False, path_type=Path),
              help="Per-window errors of each trained case and seed, reused when present.")
@click.option("--learning-rate", default=None, type=click.FloatRange(0, 1, min_open=True),
              help="Train the networks at this rate [default: the library's].")
@click.option("--patience", default=None, type=click.IntRange(min=1), help="[default: the library's]")
def main(cases, seeds, epochs, input_steps, max_train_rows, data_dir, cache, learning_rate, patience) -> None:
    """Score the weight rules on the test windows of the same trained networks."""
    cache.mkdir(parents=True, exist_ok=True)
    training = {k: v for k, v in (("learning_rate", learning_rate), ("patience", patience)) if v is not None}
    tag = "".join(f"_{k[0]}{v:g}" for k, v in training.items())
    worse: dict[str, list[str]] = {rule: [] for rule in RULES}
    ratios: dict[str, list[float]] = {rule: [] for rule in RULES}
    lines = ["| case | baseline alone (w=1) | " + " | ".join(RULES) + " |", "|---" * (len(RULES) + 2) + "|"]
    for case in cases.split(","):
        name, features, horizon = case.split(":")
        runs = []
        for seed in range(seeds):
            path = cache / f"{name}_{features}_{horizon}_{seed}_e{epochs}_L{input_steps}_r{max_train_rows}{tag}.npz"
            if not path.is_file():
                np.savez(path, **window_errors(name, features, int(horizon), seed, epochs, input_steps, data_dir,
                                               max_train_rows, training))
            runs.append(dict(np.load(path)))
            click.echo(f"  {case} seed {seed}: trained in {float(runs[-1]['seconds']):.0f} s", err=True)
        span = input_steps + int(horizon)
        base, base_se = mean_se([test_mae(r["test"], np.full(r["test"].shape[2], len(GRID) - 1)) for r in runs])
        cells, now = [], None
        for rule, choose in RULES.items():
            chosen = [choose(r["val"], span=span, evidence=float(r.get("stretches", (len(r["val"]) + span - 1) / span)))
                      for r in runs]  # caches without "stretches": one series
            mae, se = mean_se([test_mae(r["test"], c) for r, c in zip(runs, chosen)])
            now = mae if rule == "lowest" else now
            ratios[rule].append(mae / now)
            if mae - base > max(se, base_se):
                worse[rule].append(case)
            weights = " ".join("/".join(f"{GRID[g]:.1f}" for g in c[:3]) for c in chosen)
            cells.append(f"{mae:.4f} ± {se:.4f} (w {weights})")
        lines.append(f"| {case} | {base:.4f} ± {base_se:.4f} | " + " | ".join(cells) + " |")
    lines += ["", "| rule | worse than the baseline alone by > 1 se | mean MAE / lowest |", "|---|---|---|"]
    lines += [f"| {rule} | {', '.join(worse[rule]) or 'none'} | {np.mean(ratios[rule]):.4f} |" for rule in RULES]
    click.echo("\n".join(lines))


if __name__ == "__main__":
    main()
