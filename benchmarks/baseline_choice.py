"""Which baseline the combination builds on, and what the test windows would have preferred (issue 23).

`forecaster.combine` blends the network with one baseline per target and step: of naive, seasonal
naive and the ridge, the one with the lowest MAE on the training and validation windows. The
skill table (`skill.py`) judges the default against the best baseline on the *test* windows,
chosen after the fact. This script, without training a network, asks whether a rule that chooses
on the past could have picked that baseline: per case it prints the test MAE (sensor units,
averaged over the horizon and the targets) of the best baseline, of the library's choice
(`forecaster.combine.baselines` and `baseline_errors`, as training runs them), of the choice on
the validation windows alone, of the ridge refit on the training and validation windows, of the
library's choice with the average of the ridge and the seasonal naive as a fourth candidate, and
of that average alone; and the ridge's and the seasonal naive's validation MAE (every rule's
validation and test MAE in ``results/baseline_choice.json``). No randomness: one run is the
measurement.

Example (the long horizons of skill.py's grid; ETTm cut as there):
    python benchmarks/baseline_choice.py --datasets ETTh1,ETTh2 --horizons 24,96,192,336,720
    python benchmarks/baseline_choice.py --datasets ETTm1,ETTm2 --horizons 24,96,192,336,720 --max-train-rows 12000
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from common import write_results  # noqa: E402
from skill import ETT, SHIPPED, load  # noqa: E402


def split_errors(spec, fleet, forecasts, label) -> dict[str, np.ndarray]:
    """Mean absolute errors ``(H * T,)`` (scaled) of each named forecast function on split ``label``."""
    from pipelines.windows import cut

    sums, count = {name: 0.0 for name in forecasts}, 0
    for starts in fleet.chunks(label):
        X, y = cut(fleet.values, starts, spec)
        X, y = X.astype("float64"), y.reshape(len(y), -1).astype("float64")
        count += len(X)
        for name, forecast in forecasts.items():
            sums[name] = sums[name] + np.abs(y - forecast(X)).sum(axis=0)
    return {name: total / count for name, total in sums.items()}


def refit_ridge(spec, fleet, period: int):
    """The library's ridge fit on the training and validation windows (both relabelled as training)."""
    from dataclasses import replace

    from forecaster.combine import baselines
    from pipelines.split import TRAIN, VALIDATION

    merged = replace(fleet, starts={**fleet.starts, TRAIN: np.sort(np.concatenate(
        [fleet.starts.get(TRAIN, np.zeros(0, "int64")), fleet.starts.get(VALIDATION, np.zeros(0, "int64"))]))})
    return baselines(spec, merged, period)


def run_case(frame, spec) -> tuple[list[str], dict]:
    """The baselines' names and every rule's validation and test MAE in sensor units (mean over steps and targets)."""
    from forecaster import Forecaster
    from forecaster.combine import Baselines, _period, baseline_errors, baselines
    from pipelines.split import TEST, VALIDATION

    estimator = Forecaster(spec=spec)
    fleet = estimator._prepare(frame)
    period = _period(spec, fleet, estimator.freq_)
    base = baselines(spec, fleet, period)
    outputs = np.arange(spec.horizon * len(spec.targets))
    forecasts = {name: (lambda X, k=k: base.forecast(X)[k]) for k, name in enumerate(base.names)}
    chosen = np.argmin(baseline_errors(spec, fleet, base), axis=0)
    forecasts["library's choice"] = lambda X: base.forecast(X)[chosen, :, outputs].T
    validation = split_errors(spec, fleet, {n: f for n, f in forecasts.items() if n in base.names}, VALIDATION)
    on_validation = np.argmin(np.stack([validation[n] for n in base.names]), axis=0)
    forecasts["choice on validation alone"] = lambda X: base.forecast(X)[on_validation, :, outputs].T
    refit = refit_ridge(spec, fleet, period)
    forecasts["ridge refit on train + validation"] = lambda X: refit.forecast(X)[refit.names.index("ridge")]
    if "seasonal_naive" in base.names:
        ridge, seasonal = base.names.index("ridge"), base.names.index("seasonal_naive")
        forecasts["average of ridge and seasonal naive"] = lambda X: base.forecast(X)[[ridge, seasonal]].mean(axis=0)
        wider = Baselines([*base.names, "average"], np.concatenate([base.kernels, base.kernels[[ridge, seasonal]].mean(
            axis=0, keepdims=True)]), np.concatenate([base.biases, base.biases[[ridge, seasonal]].mean(axis=0, keepdims=True)]))
        among = np.argmin(baseline_errors(spec, fleet, wider), axis=0)
        forecasts["choice with the average as a candidate"] = lambda X: wider.forecast(X)[among, :, outputs].T
    scale = estimator.scaler_.scale_[[spec.columns.index(t) for t in spec.targets]]
    in_units = lambda errors: float((errors.reshape(spec.horizon, -1) * scale).mean())  # noqa: E731
    validation = split_errors(spec, fleet, forecasts, VALIDATION)
    test = split_errors(spec, fleet, forecasts, TEST)
    return base.names, {name: {"validation": in_units(validation[name]), "test": in_units(test[name])}
                        for name in forecasts}


RULES = ("library's choice", "choice on validation alone", "ridge refit on train + validation",
         "choice with the average as a candidate", "average of ridge and seasonal naive")


def row(case: str, scores: dict, best: str) -> str:
    """One table row: the best baseline after the fact, each rule's test MAE (and ratio to it), validation MAEs."""
    top = scores[best]["test"]
    cells = [f"{scores[r]['test']:.4f} ({scores[r]['test'] / top:.4f})" if r in scores else "-" for r in RULES]
    seasonal = f"{scores['seasonal_naive']['validation']:.4f}" if "seasonal_naive" in scores else "-"
    return f"| {case} | {best} {top:.4f} | " + " | ".join(cells) + f" | {scores['ridge']['validation']:.4f} / {seasonal} |"


@click.command()
@click.option("--datasets", default="ETTh1,ETTh2,ETTm1,ETTm2", show_default=True,
              help="Comma-separated, as skill.py's (ETT files from --data-dir, else data/; shipped, transformers, fleet).")
@click.option("--features", default="S,M", show_default=True, help="ETT feature sets: S, M, MS.")
@click.option("--horizons", default="24,96,192,336,720", show_default=True)
@click.option("--input-steps", default=96, show_default=True, type=click.IntRange(min=1))
@click.option("--max-train-rows", default=None, type=click.IntRange(min=100),
              help="Keep each series' latest rows so that its training split holds at most this many (as skill.py).")
@click.option("--data-dir", default=str(ROOT.parent / "shared" / "data" / "ett"), show_default=True,
              type=click.Path(file_okay=False))
def main(datasets, features, horizons, input_steps, max_train_rows, data_dir) -> None:
    """Print, per case, each baseline rule's validation and test MAE and the best baseline after the fact."""
    import logging

    from pipelines import WindowSpec

    logging.basicConfig(level=logging.ERROR)
    unknown = [n for n in datasets.split(",") if n not in (*ETT, *SHIPPED, "fleet")]
    if unknown:
        raise click.BadParameter(f"unknown dataset(s) {unknown}; the datasets are {[*ETT, *SHIPPED, 'fleet']}")
    lines = ["| case | best baseline on test (after the fact) | library's choice: test (ratio) | on validation alone "
             "| ridge refit on train + validation | with the average as a candidate | average of ridge and seasonal "
             "naive | validation MAE: ridge / seasonal naive |", "|---|---|---|---|---|---|---|---|"]
    records = []
    for name in datasets.split(","):
        for feat in (["X"] if name == "fleet" else ["MS"] if name in SHIPPED else features.split(",")):
            frame, feats, targets = load(name, feat, Path(data_dir), max_train_rows)
            for horizon in (int(h) for h in horizons.split(",")):
                spec = WindowSpec(input_steps=input_steps, horizon=horizon, features=feats, targets=targets)
                names, scores = run_case(frame, spec)
                best = min(names, key=lambda n: scores[n]["test"])
                lines.append(row(f"{name} {feat} H={horizon}", scores, best))
                records.append({"dataset": name, "features": feat, "horizon": horizon, "best": best, "scores": scores})
                click.echo(lines[-1], err=True)
    click.echo(f"input {input_steps}, max train rows {max_train_rows}; MAE in sensor units over the horizon and the "
               "targets; ratio: against the best baseline on the test windows, chosen after the fact")
    click.echo("\n".join(lines))
    write_results("baseline_choice", {"max_train_rows": max_train_rows, "cases": records})


if __name__ == "__main__":
    main()
