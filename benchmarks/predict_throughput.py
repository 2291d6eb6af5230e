"""Batch prediction throughput: our fast path against Keras `model.predict` on the same windows.

    .venv/bin/python benchmarks/predict_throughput.py [--sensors 100] [--rows 10000] [--windows-per-sensor 500]

Builds a long CSV (sensors x rows, 7 columns), trains nothing (weights do not change speed),
wraps the reference 2x64 LSTM in a Forecaster, and measures windows per second for:
ours (`Forecaster.predict_windows`, XLA buckets), `model.predict` with batch 1024, and
`model.predict` one window at a time (sampled). Also times `Forecaster.predict` on the whole
CSV (read, regularize, one forecast per sensor).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import best_of, reference_network, table, write_results  # noqa: E402

COLUMNS = ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]


def make_csv(path: Path, sensors: int, rows: int) -> None:
    rng = np.random.default_rng(0)
    t = np.arange(rows)
    parts = []
    for s in range(sensors):
        values = np.sin(2 * np.pi * (t[:, None] + s) / 24 + np.arange(7)) + rng.normal(0, 0.1, (rows, 7))
        frame = pd.DataFrame(values, columns=COLUMNS)
        frame.insert(0, "date", pd.date_range("2024-01-01", periods=rows, freq="1h"))
        frame.insert(0, "sensor", f"s{s:03d}")
        parts.append(frame)
    pd.concat(parts).to_csv(path, index=False)


def parse_args() -> argparse.Namespace:
    """The command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sensors", type=int, default=100)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--windows-per-sensor", type=int, default=500)
    parser.add_argument("--single-samples", type=int, default=30)
    return parser.parse_args()


def reference_forecaster(spec):
    """A Forecaster around the untrained reference network, with a scaler fit on noise."""
    from forecaster.model import Forecaster
    from pipelines import Scaler

    model = Forecaster(spec=spec)
    model.model_ = reference_network()
    model.scaler_ = Scaler(columns=COLUMNS).fit(np.random.default_rng(1).normal(size=(100, 7)))
    model.freq_, model.time_col_, model.sensor_col_ = "1h", "date", "sensor"
    return model


def load_windows(args: argparse.Namespace, spec) -> tuple:
    """``(frame, windows, read_s)``: the long CSV built and read back (seconds to read), and the
    last ``--windows-per-sensor`` input windows of every sensor."""
    from pipelines import read_csv
    from pipelines.series import prepare
    from pipelines.windows import input_windows

    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "big.csv"
        make_csv(csv, args.sensors, args.rows)
        start = time.perf_counter()
        frame = read_csv(csv)
        read_s = time.perf_counter() - start
    data = prepare(frame, COLUMNS, freq="1h", max_gap=3)
    windows = np.concatenate([
        input_windows(s.values, spec, s.segment)[-args.windows_per_sensor:] for s in data.series.values()
    ])
    return frame, windows, read_s


def measure(model, frame, windows: np.ndarray, k: int) -> dict[str, float]:
    """Seconds per call of each path (batched: all ``windows``; single: per window, ``k``
    sampled), of ``Forecaster.predict`` on the whole frame, and the largest difference between
    our forecasts and Keras'."""
    scaled = model.scaler_.transform(windows).astype("float32")
    model.warmup()
    ours = best_of(lambda: model.predict_windows(windows), 2)
    keras_batch = best_of(lambda: model.model_.predict(scaled, batch_size=1024, verbose=0), 2)
    model.model_.predict(scaled[:1], verbose=0)
    start = time.perf_counter()
    for i in range(k):
        model.model_.predict(scaled[i : i + 1], verbose=0)
    keras_single = (time.perf_counter() - start) / k
    ours_single = best_of(lambda: [model.predict_windows(windows[i : i + 1]) for i in range(k)], 2) / k
    whole = best_of(lambda: model.predict(frame), 2)
    diff = float(np.max(np.abs(model.predictor(scaled[:2048]) - model.model_.predict(scaled[:2048], verbose=0))))
    return {"ours": ours, "keras_batch": keras_batch, "keras_single": keras_single, "ours_single": ours_single,
            "whole": whole, "diff": diff}


def report(args: argparse.Namespace, n: int, read_s: float, m: dict[str, float]) -> None:
    """Print the table for ``n`` windows and write ``results/predict_throughput.json``."""
    ours, keras_batch, keras_single, ours_single = m["ours"], m["keras_batch"], m["keras_single"], m["ours_single"]
    k = args.single_samples
    rows = [
        ["ours: Forecaster.predict_windows (XLA buckets)", n, n / ours, 1.0],
        ["keras model.predict, batch 1024", n, n / keras_batch, keras_batch / ours],
        ["keras model.predict, one window per call", k, 1 / keras_single, keras_single * n / ours],
        ["ours, one window per call", k, 1 / ours_single, ours_single * n / ours],
    ]
    print(f"{args.sensors} sensors x {args.rows} rows; read_csv {read_s:.2f} s; "
          f"Forecaster.predict on the whole CSV (one forecast per sensor) {m['whole']:.2f} s; "
          f"max |ours - keras| = {m['diff']:.2g}")
    print(table(["path", "windows", "windows/s", "time vs ours"], rows))
    print(f"\nours (batched) vs keras one window per call: {keras_single * n / ours:.0f}x throughput; "
          f"ours vs keras batch 1024: {keras_batch / ours:.2f}x")
    path = write_results("predict_throughput", {
        "args": vars(args), "windows": n, "ours_per_s": n / ours, "keras_batch_per_s": n / keras_batch,
        "keras_single_per_s": 1 / keras_single, "ours_single_per_s": 1 / ours_single,
        "predict_whole_csv_s": m["whole"], "read_csv_s": read_s, "max_abs_diff": m["diff"],
    })
    print(f"wrote {path}")


def main() -> None:
    """Build and read the CSV, time every prediction path, print the table, write the results."""
    args = parse_args()
    from pipelines import WindowSpec

    spec = WindowSpec(input_steps=96, horizon=24, features=COLUMNS, targets=COLUMNS)
    model = reference_forecaster(spec)
    frame, windows, read_s = load_windows(args, spec)
    report(args, len(windows), read_s, measure(model, frame, windows, args.single_samples))


if __name__ == "__main__":
    main()
