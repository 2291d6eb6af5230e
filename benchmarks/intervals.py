"""Coverage and width of the conformal prediction intervals on the test split (issue 21).

Trains the library's default model (GRU 128, segments of 24, 96 steps in, 24 out, OT from OT,
the default 70/10/20 split, intervals calibrated on the validation windows) on the shipped data
and on ETTm1 (and any other ETT file not shipped) from ``--data-dir`` when present, then prints,
per level, the test coverage (mean over the horizon and at a few steps), the mean width and
the Winkler score. A second table recalibrates the four variants (absolute or signed residuals,
scaled by the window's volatility or not) on the same validation residuals: the evidence for
the default (docs/intervals.md). Writes ``results/intervals.json``.

Example:
    python benchmarks/intervals.py                                  # ~10 min here (2 cores)
    python benchmarks/intervals.py --data-dir ../shared/data/ett --epochs 10
    python benchmarks/intervals.py --seeds 0,1,2      # a third table: coverage per step, mean over seeds

With several seeds the first two tables show the first seed; the third averages each step's
coverage over the seeds (a model's own noise moves one step's coverage by a point or two) and
gives the step farthest from nominal with the seeds' standard error there.
"""

from __future__ import annotations

import hashlib
import sys
import time
from pathlib import Path

import click
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from common import table, write_results  # noqa: E402

LEVELS = (0.8, 0.95)
STEPS = (1, 6, 12, 24)  # horizon steps shown (1-based)
SHIPPED = ("ETTh1.csv", "ETTh2.csv")
EXTRA = ("ETTh1.csv", "ETTm1.csv")  # from --data-dir, unless the same bytes are shipped
VARIANTS = [("absolute", "none"), ("signed", "none"), ("absolute", "window"), ("signed", "window")]


def datasets(data_dir: Path | None) -> dict[str, Path]:
    """The files to run: the shipped ones, then the ``--data-dir`` ones whose bytes differ."""
    files = {f"{name} (shipped)": ROOT / "data" / name for name in SHIPPED}
    seen = {hashlib.sha256(p.read_bytes()).hexdigest() for p in files.values()}
    for name in EXTRA if data_dir is not None else ():
        path = data_dir / name
        if path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() not in seen:
            files[name] = path
    return files


def run(path: Path, epochs: int, seed: int) -> dict:
    """Train the default model on ``path`` and score its intervals on the test split."""
    import forecaster
    from forecaster.evaluate.scores import split_windows
    from pipelines import WindowSpec, read_csv
    from pipelines.split import TEST, VALIDATION

    frame = read_csv(path)
    spec = WindowSpec(input_steps=96, horizon=24, features=["OT"], targets=["OT"])
    start = time.perf_counter()
    model = forecaster.train(frame, spec, epochs=epochs, seed=seed, intervals=LEVELS)
    seconds = time.perf_counter() - start
    windows = split_windows(model, frame)[0]
    test, val = windows[TEST], windows[VALIDATION]
    forecast = model.predict_windows(test.X)
    record = {"train_seconds": round(seconds, 1), "epochs": len(model.history_.get("loss", [])),
              "validation_windows": int(model.intervals_.windows_), "test_windows": int(len(test.X)),
              "mae": float(model.metrics_["mae"]["OT"]), "levels": {}}
    for level in LEVELS:
        lo, hi = model.interval_bounds(test.X, forecast, level)
        record["levels"][str(level)] = score(test.y, lo, hi, level)
    record["variants"] = variants(model, val, test, forecast)
    return record


def score(actual: np.ndarray, lo: np.ndarray, hi: np.ndarray, level: float) -> dict:
    """Coverage and width per step (first target), their means, and the Winkler score."""
    from pipelines.metrics import coverage, winkler

    per_step = coverage(actual, lo, hi, axis=0)[:, 0]
    width = np.mean(hi - lo, axis=0)[:, 0]
    return {"coverage": per_step.tolist(), "width": width.tolist(), "mean_coverage": float(per_step.mean()),
            "mean_width": float(width.mean()), "winkler": float(winkler(actual, lo, hi, level))}


def variants(model, val, test, forecast: np.ndarray) -> dict:
    """The four variants recalibrated on the same validation windows, scored on the test windows."""
    from pipelines.conformal import Conformal

    fitted = model.predict_windows(val.X)
    out = {}
    for residual, scale in VARIANTS:
        table_ = Conformal(levels=LEVELS, residual=residual, scale=scale).fit(val.y, fitted, val.history)
        out[f"{residual}, {scale}"] = {str(level): score(test.y, *table_.bounds(forecast, level, test.history), level)
                                       for level in LEVELS}
    return out


def rows_of(name: str, record: dict) -> list[list[object]]:
    """The main table's rows of one data set."""
    rows = []
    for level, s in record["levels"].items():
        cov = s["coverage"]
        steps = " / ".join(f"{cov[h - 1]:.3f}" for h in STEPS)
        rows.append([name, level, f"{s['mean_coverage']:.3f}", f"[{min(cov):.3f}, {max(cov):.3f}]", steps,
                     f"{s['mean_width']:.2f}", f"{s['width'][0]:.2f} / {s['width'][-1]:.2f}", f"{s['winkler']:.2f}"])
    return rows


@click.command(epilog="Example:\n  python benchmarks/intervals.py --data-dir ../shared/data/ett")
@click.option("--data-dir", default=None, type=click.Path(file_okay=False, path_type=Path),
              help="Folder with ETTh1.csv / ETTm1.csv [default: ../shared/data/ett when present].")
@click.option("--epochs", default=10, show_default=True, type=click.IntRange(min=1))
@click.option("--seeds", default="0", show_default=True, help="Training seeds, comma-separated (e.g. 0,1,2).")
def main(data_dir: Path | None, epochs: int, seeds: str) -> None:
    """Train the default model per data set and print the interval coverage and width tables."""
    if data_dir is None and (ROOT.parent / "shared" / "data" / "ett").is_dir():
        data_dir = ROOT.parent / "shared" / "data" / "ett"
    try:
        seeds = tuple(int(s) for s in seeds.split(","))
    except ValueError:
        raise click.BadParameter(f"expected integers separated by commas, e.g. 0,1,2; got {seeds!r}") from None
    records, rows, compare, by_seed = {}, [], [], {}
    for name, path in datasets(data_dir).items():
        runs = by_seed[name] = [run(path, epochs, seed) for seed in seeds]
        record = records[name] = runs[0]
        click.echo(f"{name}: {record['epochs']} epochs in {record['train_seconds']} s, test MAE {record['mae']:.3f}, "
                   f"{record['validation_windows']} validation / {record['test_windows']} test windows", err=True)
        rows += rows_of(name, record)
        for variant, levels in record["variants"].items():
            compare.append([name, variant, *(f"{levels[str(lv)][k]:.3f}" if k == "mean_coverage" else
                                             f"{levels[str(lv)][k]:.2f}" for lv in LEVELS
                                             for k in ("mean_coverage", "mean_width", "winkler"))])
    click.echo("Conformal intervals of the default model on the test split (OT, 96 -> 24, "
               f"{epochs} epochs): coverage per step at steps {', '.join(map(str, STEPS))}; width in sensor units\n")
    click.echo(table(["data", "level", "coverage", "[min, max] over steps", "coverage at steps", "mean width",
                      "width step 1 / 24", "Winkler"], rows))
    click.echo("\nVariants recalibrated on the same validation windows (the default: signed, window)\n")
    click.echo(table(["data", "residual, scale", *(f"{lv} {k}" for lv in LEVELS for k in ("coverage", "width",
                                                                                          "Winkler"))], compare))
    if len(seeds) > 1:
        click.echo(f"\nCoverage per step averaged over seeds {', '.join(map(str, seeds))}: mean over steps, "
                   "the step farthest from nominal (mean over seeds +- standard error)\n")
        click.echo(table(["data", "level", "coverage", "[min, max] over steps", "farthest step", "+- se",
                          "mean width"], [row for name, runs in by_seed.items() for row in seed_rows(name, runs)]))
    write_results("intervals", {"epochs": epochs, "seeds": list(seeds), "data": records,
                                "by_seed": {name: runs for name, runs in by_seed.items()}})


def seed_rows(name: str, runs: list[dict]) -> list[list[object]]:
    """The coverage per step averaged over the seeds' runs, per level."""
    rows = []
    for level in map(str, LEVELS):
        cov = np.array([r["levels"][level]["coverage"] for r in runs])  # (seeds, steps)
        mean, se = cov.mean(axis=0), cov.std(axis=0, ddof=1) / np.sqrt(len(runs))
        worst = int(np.argmax(np.abs(mean - float(level))))
        width = np.mean([r["levels"][level]["mean_width"] for r in runs])
        rows.append([name, level, f"{mean.mean():.3f}", f"[{mean.min():.3f}, {mean.max():.3f}]",
                     f"{worst + 1}: {mean[worst]:.3f}", f"{se[worst]:.3f}", f"{width:.2f}"])
    return rows


if __name__ == "__main__":
    main()
