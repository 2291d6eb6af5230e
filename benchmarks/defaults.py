"""The library defaults (SegRNN-style segment GRU) vs the row-by-row LSTM, on the data shipped in ``data/``.

Each task trains both designs on the same windows (96 steps in, 24 out, the default
70/10/20 split) and prints the test MAE in sensor units beside the naive last value and the
training time; writes ``results/defaults.json``.

Example:
    python benchmarks/defaults.py                   # 3 tasks x 2 designs x 1 seed, ~5 min here
    python benchmarks/defaults.py --seeds 2 --epochs 30
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from common import table, write_results  # noqa: E402

COLUMNS = ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]
TASKS = {
    "ETTh1 OT -> OT": ("ETTh1.csv", ["OT"]),
    "ETTh2 OT -> OT": ("ETTh2.csv", ["OT"]),
    "ETTh1 7 columns -> OT": ("ETTh1.csv", COLUMNS),
}
DESIGNS = {
    "row by row: LSTM 64, dense head, MSE (defaults before)": {
        "cell": "lstm", "units": 64, "segment": 0, "decoder": "dense", "loss": "mse", "lr_decay": 1.0},
    "defaults: GRU 128, segments of 24, parallel decoder, L1, decay 0.9": {},
}


@click.command(epilog="Example:\n  python benchmarks/defaults.py --seeds 2")
@click.option("--seeds", default=1, show_default=True, type=click.IntRange(min=1), help="Seeds 0 .. N-1 per design.")
@click.option("--epochs", default=30, show_default=True, type=click.IntRange(min=1))
def main(seeds: int, epochs: int) -> None:
    """Train both designs on each task and print the test MAE table."""
    import forecaster
    from pipelines import WindowSpec, read_csv

    rows, records = [], []
    for task, (file, features) in TASKS.items():
        frame = read_csv(ROOT / "data" / file)
        spec = WindowSpec(input_steps=96, horizon=24, features=features, targets=["OT"])
        for design, options in DESIGNS.items():
            for seed in range(seeds):
                start = time.perf_counter()
                model = forecaster.train(frame, spec, epochs=epochs, seed=seed, **options)
                seconds = time.perf_counter() - start
                record = {"task": task, "design": design, "seed": seed, "mae": float(model.metrics_["mae"]["OT"]),
                          "naive_mae": float(model.metrics_["naive_mae"]["OT"]),
                          "epochs": len(model.history_.get("loss", [])), "seconds": round(seconds, 1)}
                records.append(record)
                rows.append([task, design, seed, f"{record['mae']:.3f}", f"{record['naive_mae']:.3f}",
                             record["epochs"], seconds])
                click.echo(f"{task} | {design} | seed {seed}: MAE {record['mae']:.3f}", err=True)
    click.echo(table(["task", "design", "seed", "test MAE", "naive MAE", "epochs", "train s"], rows))
    write_results("defaults", {"rows": records})


if __name__ == "__main__":
    main()
