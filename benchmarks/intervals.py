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
@click.option("--seed", default=0, show_default=True, type=int)
def main(data_dir: Path | None, epochs: int, seed: int) -> None:
    """Train the default model per data set and print the interval coverage and width tables."""
    if data_dir is None and (ROOT.parent / "shared" / "data" / "ett").is_dir():
        data_dir = ROOT.parent / "shared" / "data" / "ett"
    records, rows, compare = {}, [], []
    for name, path in datasets(data_dir).items():
        record = records[name] = run(path, epochs, seed)
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
    write_results("intervals", {"epochs": epochs, "seed": seed, "data": records})


if __name__ == "__main__":
    main()
