"""Skill against the best baseline (issue 23): our networks with and without the linear path or
the combination with the baselines (`forecaster.combine`; its variants: combine_variants.py) beside naive, seasonal naive, ridge and (with statsforecast installed) AutoETS, per dataset and
horizon, on the test windows `forecaster evaluate` scores (the bundle's 70/10/20 split).

Prints one table per dataset, feature set and horizon: each method's MAE in sensor units
averaged over the horizon (mean and standard error over seeds), its skill against the best
baseline (``1 - MAE / MAE_best``, the best baseline taken per target and step), the worst step's
skill and the steps a baseline wins, and the training time; for the generated fleet also each
sensor's MAE. Writes ``results/skill.json``.

Peers beside the baselines need the optional extra (``pip install 'iot-forecaster[peers]'``:
statsforecast for AutoETS; without it the AutoETS rows are left out, said once).

Example:
    python benchmarks/skill.py                                     # the full grid: hours
    python benchmarks/skill.py --datasets ETTh1 --features S,M --horizons 24,96 --designs gru+combine  # ~25 min here
    python benchmarks/skill.py --datasets ETTh1,fleet --features S --horizons 24,96 --seeds 3 \\
        --epochs 8 --max-train-rows 4000 --designs gru,gru+window   # ~30 min here
    python benchmarks/skill.py --datasets ETTh1,ETTm1,fleet --features S --horizons 24,96 --seeds 3 \
        --epochs 6 --max-train-rows 3000 --designs gru+combine      # ~25 min here
"""

from __future__ import annotations

import contextlib
import logging
import math
import sys
import time
from pathlib import Path

import click
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from combine_variants import variants  # noqa: E402
from common import write_results  # noqa: E402
from fleet import fleet_frame  # noqa: E402
from ridge_init import ridge_start  # noqa: E402

ETT = ("ETTh1", "ETTh2", "ETTm1", "ETTm2")
ETT_COLUMNS = ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]
DESIGNS = {
    "default": {},
    "gru": {"linear": "none", "combine": "none"},
    "gru+window": {"linear": "window", "combine": "none"},
    "gru+channel": {"linear": "channel", "combine": "none"},
    "gru+shared": {"linear": "shared", "combine": "none"},
    "gru+window-ridge-start": {"linear": "window", "combine": "none"},  # the linear path starts at the ridge fit (ridge_init.py)
    # the trained network combined with the baselines (forecaster.combine); also scored: the same
    # networks alone and the weights fit on half the validation windows (combine_variants.py)
    "gru+combine": {"linear": "none", "combine": "baselines"},
    "gru+window+combine": {"linear": "window", "combine": "baselines"},
}
TRAIN_SHARE = 0.7


SHIPPED = {"shipped": "ETTh1.csv", "transformers": "ett_two_transformers.csv"}
"""The sample data in data/, as the quickstart trains it: every column in, OT out."""


def load(name: str, features: str, data_dir: Path, max_train_rows: int | None):
    """``(frame, features, targets)`` of a dataset, cut to its latest rows so that the training
    split holds at most ``max_train_rows`` rows per sensor. ``features``: S (OT alone), M (all
    seven columns in and out), MS (all seven in, OT out)."""
    from pipelines import read_csv

    if name == "fleet":
        frame, feats, targets = fleet_frame(), ["weather", "temp"], ["temp"]
    else:
        path = ROOT / "data" / SHIPPED[name] if name in SHIPPED else data_dir / f"{name}.csv"
        if not path.is_file():
            path = ROOT / "data" / f"{name}.csv"
        frame = read_csv(path, time_col="date")
        feats = ["OT"] if features == "S" else ETT_COLUMNS
        targets = ["OT"] if features in ("S", "MS") else feats
        frame = frame[[c for c in ("sensor", "date") if c in frame] + feats]
    if max_train_rows:
        keep = math.ceil(max_train_rows / TRAIN_SHARE)
        frame = frame.groupby("sensor").tail(keep) if "sensor" in frame else frame.tail(keep)
    return frame.reset_index(drop=True), feats, targets


def run_case(frame, spec, designs, seeds, epochs, lines):
    """Train every design and seed, evaluate each; returns the rows of one table and its records."""
    from forecaster import train
    from forecaster.evaluate.scores import MODEL
    from forecaster.evaluate.scores import evaluate as run_evaluation
    from forecaster.evaluate.skill import baselines_of, best_baseline

    runs: dict[str, list[dict]] = {}
    baselines = None
    for design in designs:
        for seed in range(seeds):
            start = time.perf_counter()
            combine = DESIGNS[design].get("combine", "none") != "none"
            with ridge_start([spec.features.index(t) for t in spec.targets]) if design.endswith("ridge-start") \
                    else contextlib.nullcontext():
                model = train(frame, spec, epochs=epochs, seed=seed, intervals=(0.8, 0.95) if combine else (),
                              **DESIGNS[design])
            seconds = time.perf_counter() - start
            for suffix, scored_model in (variants(model, frame) if combine else {"": model}).items():
                scored = time.perf_counter()  # AutoETS (slow) once per case: the baselines do not change
                result = run_evaluation(scored_model, frame, by_sensor=True, autoets=baselines is None)
                scored = time.perf_counter() - scored
                if baselines is None:
                    baselines = result
                label = design + suffix
                runs.setdefault(label, []).append({
                    "mae": result.scores[MODEL]["mae"], "seconds": seconds, "epochs": len(model.history_.get("loss", [])),
                    "coverage": {level: float(v["coverage"].mean()) for level, v in result.intervals.items()},
                    "sensors": {s: e[MODEL]["mae"] for s, e in result.by_sensor.items()}})
                click.echo(f"  {label} seed {seed}: MAE {result.scores[MODEL]['mae'].mean():.4f} "
                           f"(train {seconds:.0f} s, {runs[label][-1]['epochs']} epochs; evaluate {scored:.0f} s)",
                           err=True)
    names, best = best_baseline(baselines.scores)
    rows, records = [], []
    for method in baselines_of(baselines.scores):
        mae = baselines.scores[method]["mae"]
        rows.append(_row(method, [mae], best, names, None))
        records.append({"method": method, "mae": float(mae.mean()), "per_step": mae.mean(axis=1).tolist()})
    for design, items in runs.items():
        rows.append(_row(design, [r["mae"] for r in items], best, names, [r["seconds"] for r in items],
                         epochs=[r["epochs"] for r in items], coverage=[r["coverage"] for r in items]))
        records.append({"method": design, "mae_seeds": [float(r["mae"].mean()) for r in items],
                        "seconds": [round(r["seconds"], 1) for r in items], "epochs": [r["epochs"] for r in items],
                        "coverage": [r["coverage"] for r in items],
                        "per_step": np.mean([r["mae"].mean(axis=1) for r in items], axis=0).tolist(),
                        "sensors": {s: float(np.mean([r["sensors"][s].mean() for r in items]))
                                    for s in items[0]["sensors"]}})
    if len(baselines.by_sensor) > 1:
        sensors = list(baselines.by_sensor)
        lines.append("| method | " + " | ".join(f"{s} MAE" for s in sensors) + " |")
        lines.append("|" + "---|" * (len(sensors) + 1))
        for method in baselines_of(baselines.scores):
            lines.append(f"| {method} | " + " | ".join(
                f"{baselines.by_sensor[s][method]['mae'].mean():.4f}" for s in sensors) + " |")
        for record in records[len(baselines_of(baselines.scores)):]:
            lines.append(f"| {record['method']} | " + " | ".join(f"{record['sensors'][s]:.4f}" for s in sensors) + " |")
    return rows, records


def _row(method, maes, best, names, seconds, epochs=None, coverage=None):
    """One table row: MAE mean (and standard error over seeds), skill, worst step, lost steps, time."""
    from forecaster.evaluate.skill import steps_text

    per_run = np.array([m.mean() for m in maes])
    mean_mae = np.mean(maes, axis=0)  # (H, T)
    skill_steps = 1 - mean_mae / best
    se = per_run.std(ddof=1) / math.sqrt(len(per_run)) if len(per_run) > 1 else float("nan")
    lost = np.flatnonzero((skill_steps < 0).any(axis=1)) + 1
    overall = 1 - mean_mae.mean() / best.mean()
    se_text = "" if not np.isfinite(se) else f" ± {se:.4f}"
    return [method, f"{per_run.mean():.4f}{se_text}", f"{overall:+.3f}", f"{skill_steps.min():+.3f}",
            steps_text(lost.tolist()) if len(lost) else "-",
            "-" if seconds is None else f"{np.mean(seconds):.0f}", "-" if epochs is None else f"{np.mean(epochs):.1f}",
            _coverage(coverage)]


def _coverage(coverage):
    """Test coverage of the 0.8 and 0.95 intervals, averaged over seeds ("-" without intervals)."""
    if not coverage or not coverage[0]:
        return "-"
    return " / ".join(f"{np.mean([c[level] for c in coverage]):.3f}" for level in sorted(coverage[0]))


@click.command(epilog="Example:\n  python benchmarks/skill.py --datasets ETTh1,fleet --features S --horizons 24,96 "
                      "--seeds 3 --epochs 8 --max-train-rows 4000")
@click.option("--datasets", default="shipped,transformers,ETTh1,ETTh2,ETTm1,ETTm2,fleet", show_default=True,
              help="Comma-separated: shipped (data/ETTh1.csv as the quickstart trains it: all columns in, OT out), "
                   "transformers (data/ett_two_transformers.csv, two sensors, the same), ETTh1, ETTh2, ETTm1, ETTm2 "
                   "(from --data-dir, else data/) and fleet (generated).")
@click.option("--features", default="S,M", show_default=True,
              help="ETT feature sets: S (OT only), M (all 7 in and out), MS (all 7 in, OT out).")
@click.option("--horizons", default="24,96", show_default=True, help="Comma-separated horizons.")
@click.option("--input-steps", default=96, show_default=True, type=click.IntRange(min=1))
@click.option("--seeds", default=3, show_default=True, type=click.IntRange(min=1))
@click.option("--epochs", default=30, show_default=True, type=click.IntRange(min=1))
@click.option("--max-train-rows", default=None, type=click.IntRange(min=100),
              help="Keep each series' latest rows so that its training split holds at most this many.")
@click.option("--designs", default="gru+combine,gru+window", show_default=True,
              help=f"Comma-separated, of {', '.join(DESIGNS)} (default: today's ModelParams defaults).")
@click.option("--data-dir", default=str(ROOT.parent / "shared" / "data" / "ett"), show_default=True,
              type=click.Path(file_okay=False))
def main(datasets, features, horizons, input_steps, seeds, epochs, max_train_rows, designs, data_dir) -> None:
    """Train the designs and score them beside the baselines, per dataset and horizon."""
    from pipelines import WindowSpec
    from pipelines.ets import ets_available

    logging.basicConfig(level=logging.ERROR)
    designs = designs.split(",")
    unknown = [d for d in designs if d not in DESIGNS]
    if unknown:
        raise click.BadParameter(f"unknown design(s) {unknown}; the designs are {list(DESIGNS)}")
    if not ets_available():
        click.echo("statsforecast is not installed: no AutoETS rows (pip install 'iot-forecaster[peers]')", err=True)
    out, records = [], []
    for name in datasets.split(","):
        for feat in (["X"] if name == "fleet" else ["MS"] if name in SHIPPED else features.split(",")):
            frame, feats, targets = load(name, feat, Path(data_dir), max_train_rows)
            for horizon in (int(h) for h in horizons.split(",")):
                spec = WindowSpec(input_steps=input_steps, horizon=horizon, features=feats, targets=targets)
                title = f"{name} {feat} H={horizon} ({len(frame)} rows)"
                click.echo(title, err=True)
                lines: list[str] = []
                rows, recs = run_case(frame, spec, designs, seeds, epochs, lines)
                case = [f"\n### {title}\n", "| method | MAE | skill | worst step skill | steps lost | train s | epochs | "
                        "coverage 0.8 / 0.95 |", "|---|---|---|---|---|---|---|---|", *("| " + " | ".join(r) + " |" for r in rows),
                        *(["", *lines] if lines else [])]
                out += case
                records.append({"dataset": name, "features": feat, "horizon": horizon, "rows": len(frame),
                                "methods": recs})
                click.echo("\n".join(case), err=True)
    click.echo(f"seeds {seeds}, epochs {epochs}, input {input_steps}, max train rows {max_train_rows}; skill = "
               "1 - MAE / MAE of the best baseline at each step (baselines: naive, seasonal naive, ridge, AutoETS)")
    click.echo("\n".join(out))
    write_results("skill", {"seeds": seeds, "epochs": epochs, "max_train_rows": max_train_rows, "cases": records})


if __name__ == "__main__":
    main()
