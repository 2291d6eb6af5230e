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
    python benchmarks/warm_start.py                 # 1 seed: about 2 min here
    python benchmarks/warm_start.py --seeds 5 --warm-learning-rate 3e-4
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


def _run(frame, spec, split, *, epochs: int, seed: int, init_from: Path | None = None, **options) -> dict:
    """Train one model; its epochs, best epoch, test MAE, seconds (and the model)."""
    import forecaster

    start = time.perf_counter()
    model = forecaster.train(frame, spec, split=split, epochs=epochs, seed=seed, init_from=init_from, **options)
    seconds = time.perf_counter() - start
    val = model.history_.get("val_loss", [])
    return {"model": model, "epochs": len(model.history_["loss"]), "best": int(np.argmin(val)) + 1 if val else None,
            "mae": model.metrics_.get("mae", {}).get("OT"), "seconds": seconds}


def _one_seed(frame, spec, cuts, epochs: int, seed: int, folder: Path, warm: dict) -> dict[str, dict]:
    """The three runs of one seed."""
    from pipelines import SplitSpec

    times = frame["date"]
    t60, t70, t80 = cuts
    runs = {"scratch": _run(frame, spec, SplitSpec(train_end=t70, val_end=t80), epochs=epochs, seed=seed)}
    early = frame[times < t60]
    runs["parent"] = _run(early, spec, SplitSpec(val=1 / 6, test=0.0), epochs=epochs, seed=seed)
    parent = runs["parent"]["model"].save(folder / f"parent-{seed}")
    late = frame[times >= t60]
    runs["warm"] = _run(late, None, SplitSpec(train_end=t70, val_end=t80), epochs=epochs, seed=seed, init_from=parent,
                        **warm)
    return runs


@click.command(epilog="Example:\n  python benchmarks/warm_start.py --seeds 3")
@click.option("--seeds", default=1, show_default=True, type=click.IntRange(min=1), help="Seeds 0 .. N-1.")
@click.option("--epochs", default=30, show_default=True, type=click.IntRange(min=1), help="Most epochs of each run.")
@click.option("--warm-learning-rate", default=None, type=float, help="The warm start's learning rate [default: the "
              "default, 1e-3, as the runs from scratch].")
def main(seeds: int, epochs: int, warm_learning_rate: float | None) -> None:
    """Train from scratch and by warm start per seed; print the table."""
    from pipelines import WindowSpec, read_csv

    frame = read_csv(ROOT / "data" / "ETTh1.csv")
    times = frame["date"]
    cuts = [times.iloc[int(len(frame) * f)] for f in (0.6, 0.7, 0.8)]
    spec = WindowSpec(input_steps=96, horizon=24, features=["OT"], targets=["OT"])
    rows, records = [], []
    with tempfile.TemporaryDirectory() as folder:
        for seed in range(seeds):
            warm = {} if warm_learning_rate is None else {"learning_rate": warm_learning_rate}
            runs = _one_seed(frame, spec, cuts, epochs, seed, Path(folder), warm)
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
    _summary(records)
    click.echo(table(["seed", "run", "epochs", "test MAE OT", "wall s"], rows))
    name = "warm_start" if warm_learning_rate is None else f"warm_start_lr{warm_learning_rate:g}"
    write_results(name, {"epochs": epochs, "warm_learning_rate": warm_learning_rate, "rows": records})


def _summary(records: list[dict]) -> None:
    """Means over the seeds: epochs, test MAE and time of both ways, and their ratios."""
    def mean(run: str, key: str) -> float:
        return float(np.mean([r[run][key] for r in records]))

    s_mae, w_mae = mean("scratch", "mae"), mean("warm", "mae")
    s_ep, w_ep = mean("scratch", "epochs"), mean("warm", "epochs")
    click.echo(f"mean of {len(records)} seed(s): scratch {s_mae:.3f} in {s_ep:.1f} epochs ({mean('scratch', 'seconds'):.0f} s); "
               f"warm start {w_mae:.3f} ({100 * (w_mae / s_mae - 1):+.1f} %) in {w_ep:.1f} epochs "
               f"({mean('warm', 'seconds'):.0f} s; {w_ep / s_ep:.2f}x the epochs)")


if __name__ == "__main__":
    main()
