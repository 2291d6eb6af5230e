"""Warm start vs training from scratch on the shipped ETTh1 (OT -> OT, the default model).

The time span is cut at 60, 70 and 80 %; every run is tested on the same last 20 %:
- **scratch on 80 %**: train on 0-70 %, early stopping on 70-80 %;
- **parent on 60 %**: train on 0-50 %, early stopping on 50-60 % (no test);
- **warm start on the next 20 %**: the parent's network trained on 60-70 %, early stopping on
  70-80 % (``train --init-from``; the parent's scaler kept).

Both final models saw the same 80 % of the data. The table gives the epochs each run took (and
its best epoch), its test MAE in sensor units and its wall time; the warm start's line also
counts the parent's epochs and time. Writes ``results/warm_start.json``.

Example:
    python benchmarks/warm_start.py                 # 1 seed, at most 15 epochs a run: ~10 min here
    python benchmarks/warm_start.py --seeds 3 --epochs 30
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import click
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from common import table, write_results  # noqa: E402


def _run(frame, spec, split, *, epochs: int, seed: int, init_from: Path | None = None) -> dict:
    """Train one model; its epochs, best epoch, test MAE, seconds (and the model)."""
    import forecaster

    start = time.perf_counter()
    model = forecaster.train(frame, spec, split=split, epochs=epochs, seed=seed, init_from=init_from)
    seconds = time.perf_counter() - start
    val = model.history_.get("val_loss", [])
    return {"model": model, "epochs": len(model.history_["loss"]), "best": int(np.argmin(val)) + 1 if val else None,
            "mae": model.metrics_.get("mae", {}).get("OT"), "seconds": seconds}


def _one_seed(frame, spec, cuts, epochs: int, seed: int, folder: Path) -> dict[str, dict]:
    """The three runs of one seed."""
    from pipelines import SplitSpec

    times = frame["date"]
    t60, t70, t80 = cuts
    runs = {"scratch": _run(frame, spec, SplitSpec(train_end=t70, val_end=t80), epochs=epochs, seed=seed)}
    early = frame[times < t60]
    runs["parent"] = _run(early, spec, SplitSpec(val=1 / 6, test=0.0), epochs=epochs, seed=seed)
    parent = runs["parent"]["model"].save(folder / f"parent-{seed}")
    late = frame[times >= t60]
    runs["warm"] = _run(late, None, SplitSpec(train_end=t70, val_end=t80), epochs=epochs, seed=seed, init_from=parent)
    return runs


@click.command(epilog="Example:\n  python benchmarks/warm_start.py --seeds 3")
@click.option("--seeds", default=1, show_default=True, type=click.IntRange(min=1), help="Seeds 0 .. N-1.")
@click.option("--epochs", default=15, show_default=True, type=click.IntRange(min=1), help="Most epochs of each run.")
def main(seeds: int, epochs: int) -> None:
    """Train from scratch and by warm start per seed; print the table."""
    from pipelines import WindowSpec, read_csv

    frame = read_csv(ROOT / "data" / "ETTh1.csv")
    times = frame["date"]
    cuts = [times.iloc[int(len(frame) * f)] for f in (0.6, 0.7, 0.8)]
    spec = WindowSpec(input_steps=96, horizon=24, features=["OT"], targets=["OT"])
    rows, records = [], []
    with tempfile.TemporaryDirectory() as folder:
        for seed in range(seeds):
            runs = _one_seed(frame, spec, cuts, epochs, seed, Path(folder))
            s, p, w = runs["scratch"], runs["parent"], runs["warm"]
            rows.append([seed, "scratch on 0-80 %", f"{s['epochs']} (best {s['best']})", f"{s['mae']:.3f}",
                         s["seconds"]])
            rows.append([seed, "warm start on 60-80 %", f"{w['epochs']} (best {w['best']})", f"{w['mae']:.3f}",
                         w["seconds"]])
            rows.append([seed, "  + its parent on 0-60 %", f"{p['epochs'] + w['epochs']} in all",
                         "", p["seconds"] + w["seconds"]])
            records.append({"seed": seed, **{name: {k: v for k, v in run.items() if k != "model"}
                                             for name, run in runs.items()}})
            click.echo(f"seed {seed}: scratch MAE {s['mae']:.3f} in {s['epochs']} epochs; warm start "
                       f"{w['mae']:.3f} in {w['epochs']}", err=True)
    click.echo(table(["seed", "run", "epochs", "test MAE OT", "wall s"], rows))
    write_results("warm_start", {"epochs": epochs, "rows": records})


if __name__ == "__main__":
    main()
