"""Backfill benchmark: bidirectional LSTM vs linear interpolation vs a forward-only LSTM.

On ETTh1's standard split (train rows [0, 8640), validation [8640, 11520), test
[11520, 14400)), both networks train on the train split (early stopping on validation).
Then, on the test rows only, gaps of 6, 12 and 24 hours are cut out of the real data
(all seven columns, as when a sensor drops out; fixed seed; the real values kept aside),
several rounds of non-overlapping gaps per length. Each gap is estimated by:

- backfill: `Backfiller.fill` on the test rows with the gaps (even rounds: NaN rows; odd
  rounds: rows removed, i.e. missing timestamps);
- linear: a straight line from the reading before the gap to the reading after it;
- forward: the project's unidirectional LSTM forecaster (input 96 h, horizon 24 h, all
  columns) forecasting the gap from the 96 readings before it.

Gaps are at least 96 slots apart, so every method sees only real readings around a gap.
MAE is on the masked points, in sensor units, averaged over the seven columns.

Usage (from the repository root; about 15-30 minutes on 2 cores):

    python benchmarks/backfill.py                       # data from ../shared/data/ett/
    python benchmarks/backfill.py --data-dir data/      # the copy shipped in the repo
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

COLUMNS = ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]
TRAIN_END, VAL_END, TEST_END = 8640, 11520, 14400
GAP_LENGTHS = (6, 12, 24)
CONTEXT = 96  # forward model input; also the minimum distance between gaps


def gap_starts(rng: np.random.Generator, n_rows: int, length: int) -> list[int]:
    """Non-overlapping gap starts, at least `CONTEXT` rows apart and from the edges."""
    starts, cursor = [], CONTEXT + int(rng.integers(0, 48))
    while cursor + length + CONTEXT // 2 <= n_rows:
        starts.append(cursor)
        cursor += length + CONTEXT + int(rng.integers(0, 48))
    return starts


def gap_rows(starts: list[int], length: int) -> np.ndarray:
    """The row positions of the gaps of ``length`` rows at ``starts``."""
    return np.concatenate([np.arange(a, a + length) for a in starts])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command's options (``argv=None``: the command line)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT / ".." / "shared" / "data" / "ett",
                        help="folder with ETTh1.csv [default: ../shared/data/ett/ next to the repository]")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "backfill.json",
                        help="JSON results file [default: benchmarks/results/backfill.json]")
    parser.add_argument("--bundles", type=Path, default=ROOT / "out" / "bench-backfill",
                        help="where the trained bundles are written [default: out/bench-backfill]")
    parser.add_argument("--reuse", action="store_true", help="load bundles from --bundles instead of training")
    parser.add_argument("--rounds", type=int, default=10, help="rounds of gaps per length [default: 10]")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--window", type=int, default=120)
    parser.add_argument("--stride", type=int, default=2, help="slots between training windows [default: 2]")
    parser.add_argument("--forward-epochs", type=int, default=30)
    parser.add_argument("--forward-units", type=int, default=64)
    return parser.parse_args(argv)


def train_or_load(args: argparse.Namespace, frame, split) -> tuple:
    """``(backfill, forward, timings)``: both models trained on the train split and saved under
    ``--bundles`` (training seconds in ``timings``), or loaded from there with ``--reuse``."""
    import forecaster
    from forecaster.backfill.estimator import Backfiller, train_backfill
    from pipelines import WindowSpec

    bf_dir, fw_dir = args.bundles / "backfill", args.bundles / "forward"
    timings = {}
    if args.reuse:
        return Backfiller.load(bf_dir), forecaster.load(fw_dir), timings
    t = time.perf_counter()
    backfill = train_backfill(frame, features=COLUMNS, window=args.window, max_fill=24, min_context=8,
                              layers=args.layers, units=args.units, epochs=args.epochs, stride=args.stride, split=split,
                              seed=args.seed, name="etth1-backfill", verbose=2)
    timings["backfill_train_s"] = round(time.perf_counter() - t, 1)
    backfill.save(bf_dir)
    t = time.perf_counter()
    spec = WindowSpec(input_steps=CONTEXT, horizon=24, features=COLUMNS, targets=COLUMNS)
    forward = forecaster.train(frame, spec, units=args.forward_units, epochs=args.forward_epochs,
                               split=split, seed=args.seed, name="etth1-forward", verbose=2)
    timings["forward_train_s"] = round(time.perf_counter() - t, 1)
    forward.save(fw_dir)
    return backfill, forward, timings


def estimate_round(test, times, backfill, forward, starts: list[int], length: int, nan_rows: bool) -> dict:
    """One round's estimates of the gaps at ``starts`` by each method, one row per masked point
    (gaps as NaN rows if ``nan_rows``, else as missing timestamps)."""
    truth = test[COLUMNS].to_numpy()
    rows = gap_rows(starts, length)
    masked = test.copy()
    if nan_rows:
        masked.loc[rows, COLUMNS] = np.nan  # NaN runs
    else:
        masked = masked.drop(index=rows)  # missing timestamps
    filled = backfill.fill(masked, max_fill=length)
    statuses = set(filled.gaps["status"])
    if statuses != {"filled"}:
        raise SystemExit(f"not every gap was filled: {statuses}")
    by_time = filled.frame.set_index("date")[COLUMNS]
    k = (np.arange(1, length + 1) / (length + 1))[None, :, None]
    left, right = truth[np.array(starts) - 1][:, None, :], truth[np.array(starts) + length][:, None, :]
    windows = np.stack([truth[a - CONTEXT : a] for a in starts])
    return {
        "backfill": by_time.loc[times.iloc[VAL_END + rows]].to_numpy(),
        "linear": (left + (right - left) * k).reshape(-1, len(COLUMNS)),
        "forward": forward.predict_windows(windows)[:, :length, :].reshape(-1, len(COLUMNS)),
    }


def score_gaps(test, times, backfill, forward, rng: np.random.Generator, rounds: int) -> dict:
    """Per gap length: the number of gaps and masked points, and each method's MAE (overall and
    per column) over ``rounds`` rounds of gaps cut from the test rows."""
    from pipelines.metrics import mae

    truth = test[COLUMNS].to_numpy()
    results = {}
    for length in GAP_LENGTHS:
        actual, est = [], {"backfill": [], "linear": [], "forward": []}
        n_gaps = 0
        for r in range(rounds):
            starts = gap_starts(rng, len(test), length)
            for method, pred in estimate_round(test, times, backfill, forward, starts, length, r % 2 == 0).items():
                est[method].append(pred)
            actual.append(truth[gap_rows(starts, length)])
            n_gaps += len(starts)
        actual_all = np.concatenate(actual)
        results[length] = {"gaps": n_gaps, "points": int(actual_all.size)}
        for method, parts in est.items():
            pred = np.concatenate(parts)
            results[length][method] = {
                "mae": float(mae(actual_all, pred)),
                "mae_per_column": dict(zip(COLUMNS, mae(actual_all, pred, axis=0).tolist())),
            }
    return results


def print_table(results: dict) -> None:
    """The MAE table, one line per gap length, and the OT column's MAE."""
    print(f"\nETTh1 test rows [{VAL_END}, {TEST_END}): MAE on masked points (sensor units, mean of 7 columns)")
    print(f"{'gap (h)':>8} {'gaps':>5} {'backfill BiLSTM':>16} {'linear interp.':>15} {'forward LSTM':>13}  best")
    for length, r in results.items():
        scores = {m: r[m]["mae"] for m in ("backfill", "linear", "forward")}
        print(f"{length:>8} {r['gaps']:>5} {scores['backfill']:>16.4f} {scores['linear']:>15.4f} "
              f"{scores['forward']:>13.4f}  {min(scores, key=scores.get)}")
    print("OT only:", {length: {m: round(r[m]["mae_per_column"]["OT"], 4) for m in ("backfill", "linear", "forward")}
                       for length, r in results.items()})


def write_report(args: argparse.Namespace, argv: list[str] | None, backfill, forward, timings: dict,
                 results: dict) -> None:
    """Write the JSON results file (``--out``): command, data, split, both models, timings, results."""
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "command": "python benchmarks/backfill.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "data": str(args.data_dir / "ETTh1.csv"),
        "split_rows": {"train": [0, TRAIN_END], "validation": [TRAIN_END, VAL_END], "test": [VAL_END, TEST_END]},
        "seed": args.seed,
        "backfill": {"spec": backfill.spec.to_dict(), "params": backfill.params.to_dict(),
                     "epochs_run": len(backfill.history_.get("loss", []))},
        "forward": {"spec": forward.spec.to_dict(), "params": forward.params.to_dict(),
                    "epochs_run": len(forward.history_.get("loss", []))},
        "timings": timings,
        "results": {str(k): v for k, v in results.items()},
    }
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


def main(argv: list[str] | None = None) -> int:
    """Train (or load) both models, score the three methods on gaps cut from the test rows,
    print the table and write the JSON results."""
    args = parse_args(argv)
    from pipelines import SplitSpec, read_csv

    frame = read_csv(args.data_dir / "ETTh1.csv").iloc[:TEST_END]
    times = frame["date"]
    split = SplitSpec(train_end=times.iloc[TRAIN_END], val_end=times.iloc[VAL_END])
    backfill, forward, timings = train_or_load(args, frame, split)
    test = frame.iloc[VAL_END:TEST_END].reset_index(drop=True)
    results = score_gaps(test, times, backfill, forward, np.random.default_rng(args.seed), args.rounds)
    print_table(results)
    write_report(args, argv, backfill, forward, timings, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
