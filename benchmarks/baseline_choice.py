"""Which baseline the combination builds on, and what the test windows would have preferred (issue 23).

`forecaster.combine` blends the network with one baseline per target and step: of naive, seasonal
naive and the ridge, the one with the lowest MAE on the training and validation windows. The
skill table (`skill.py`) judges the default against the best baseline on the *test* windows,
chosen after the fact. This script, without training a network, asks whether a rule that chooses
on the past could have picked that baseline: per case it prints the test MAE (sensor units,
averaged over the horizon and the targets) of the best baseline, of the library's choice
(`forecaster.combine.baselines` and `baseline_errors`, as training runs them; every rule is an
affine map of the window, scored by `baseline_errors` on the split asked for), of the choice on
the validation windows alone, of the ridge refit on the training and validation windows, of the
library's choice with the average of the ridge and the seasonal naive as a fourth candidate, of
that average alone, of the ridge that also reads the calendar columns (hour, day of week) and of
the library's choice when the network reads them (`forecaster.combine.with_calendar_ridge`: per
target that ridge where it lowers the validation MAE); and the validation MAE of the ridge, the
seasonal naive and the ridge with the calendar columns (every rule's
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


def refit_ridge(spec, fleet, period: int, inputs: list[int]):
    """The library's baselines with the ridge (on the columns ``inputs``) fit on the training and validation
    windows (both relabelled as training)."""
    from dataclasses import replace

    from forecaster.combine import baselines
    from pipelines.split import TRAIN, VALIDATION

    merged = replace(fleet, starts={**fleet.starts, TRAIN: np.sort(np.concatenate(
        [fleet.starts.get(TRAIN, np.zeros(0, "int64")), fleet.starts.get(VALIDATION, np.zeros(0, "int64"))]))})
    return baselines(spec, merged, period, inputs=inputs)


def per_output(base, chosen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(kernel, bias)`` of the forecast that takes, for output ``o``, baseline ``chosen[o]``."""
    outputs = np.arange(len(chosen))
    return base.kernels[chosen, :, outputs].T, base.biases[chosen, outputs]


def run_case(frame, spec) -> tuple[list[str], dict]:
    """The baselines' names and every rule's validation and test MAE in sensor units (mean over steps and
    targets). Every rule is an affine map of the window, so all are one `Baselines` scored by the
    library's `baseline_errors`."""
    from forecaster import Forecaster
    from forecaster.combine import Baselines, _period, baseline_errors, baselines, with_calendar_ridge
    from forecaster.params import ModelParams
    from pipelines.split import TEST, VALIDATION

    estimator = Forecaster(spec=spec, params=ModelParams(calendar="hour,dow"))  # the fleet holds the calendar columns
    fleet = estimator._prepare(frame)
    wide, features = estimator.network_spec, list(range(len(spec.features)))
    period = _period(wide, fleet, estimator.freq_)
    base = baselines(wide, fleet, period, inputs=features)  # the library's baselines without calendar inputs
    maps = {name: (base.kernels[k], base.biases[k]) for k, name in enumerate(base.names)}
    maps["library's choice"] = per_output(base, np.argmin(baseline_errors(wide, fleet, base), axis=0))
    on_validation = np.argmin(baseline_errors(wide, fleet, base, (VALIDATION,)), axis=0)
    maps["choice on validation alone"] = per_output(base, on_validation)
    refit = refit_ridge(wide, fleet, period, features)
    maps["ridge refit on train + validation"] = refit.kernels[refit.names.index("ridge")], refit.biases[
        refit.names.index("ridge")]
    if "seasonal_naive" in base.names:
        pair = [base.names.index("ridge"), base.names.index("seasonal_naive")]
        average = base.kernels[pair].mean(axis=0), base.biases[pair].mean(axis=0)
        wider = Baselines([*base.names, "average"], np.concatenate([base.kernels, average[0][None]]),
                          np.concatenate([base.biases, average[1][None]]))
        maps["choice with the average as a candidate"] = per_output(wider, np.argmin(baseline_errors(wide, fleet, wider),
                                                                                     axis=0))
        maps["average of ridge and seasonal naive"] = average
    calendar = baselines(wide, fleet, period)  # its ridge also reads the calendar columns
    maps["ridge + calendar"] = calendar.kernels[calendar.names.index("ridge")], calendar.biases[
        calendar.names.index("ridge")]
    chosen, _ = with_calendar_ridge(wide, fleet, base, period)  # as the library does with calendar inputs
    maps["choice with ridge + calendar where validation says"] = per_output(
        chosen, np.argmin(baseline_errors(wide, fleet, chosen), axis=0))
    rules = Baselines(list(maps), np.stack([k for k, _ in maps.values()]), np.stack([b for _, b in maps.values()]))
    scale = estimator.scaler_.scale_[[spec.columns.index(t) for t in spec.targets]]
    scores: dict = {name: {} for name in rules.names}
    for split, label in (("validation", VALIDATION), ("test", TEST)):
        errors = baseline_errors(wide, fleet, rules, (label,)) / fleet.count(label)
        for name, error in zip(rules.names, errors):
            scores[name][split] = float((error.reshape(spec.horizon, -1) * scale).mean())
    return base.names, scores


RULES = ("library's choice", "choice on validation alone", "ridge refit on train + validation",
         "choice with the average as a candidate", "average of ridge and seasonal naive", "ridge + calendar",
         "choice with ridge + calendar where validation says")


def row(case: str, scores: dict, best: str) -> str:
    """One table row: the best baseline after the fact, each rule's test MAE (and ratio to it), validation MAEs."""
    top = scores[best]["test"]
    cells = [f"{scores[r]['test']:.4f} ({scores[r]['test'] / top:.4f})" if r in scores else "-" for r in RULES]
    seasonal = f"{scores['seasonal_naive']['validation']:.4f}" if "seasonal_naive" in scores else "-"
    calendar = scores["ridge + calendar"]["validation"]
    return (f"| {case} | {best} {top:.4f} | " + " | ".join(cells)
            + f" | {scores['ridge']['validation']:.4f} / {seasonal} / {calendar:.4f} |")


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
             "naive | ridge + calendar | library's choice with ridge + calendar where validation says (calendar inputs) "
             "| validation MAE: ridge / seasonal naive / ridge + calendar |", "|---|---|---|---|---|---|---|---|---|---|"]
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
