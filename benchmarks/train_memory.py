"""Training memory and speed on generated fleets: windows held in memory (before) against start rows (now).

    .venv/bin/python benchmarks/train_memory.py [--sizes 10,50,200] [--old-max 50] [--baseline dc03cc8] [--repeat 2]

Each run is one subprocess that generates a fleet of hourly sensors (one sensor-year =
8,760 rows of 7 columns; daily waves and noise), trains `Forecaster.fit` for one epoch
(input_steps 96, horizon 24, the 7 columns in, one target; a small GRU so that 200
sensor-years fit in minutes on 2 cores: units 8, segments of 24, batch 256) including the
conformal calibration on the validation windows and the test metrics, and exits. The
parent reads the child's own peak RSS (`os.wait4`, so runs never mix). "before" runs the
same child on the code of ``--baseline`` (the last commit that materialised every window),
checked out into a temporary git worktree; "now" runs this checkout. windows/s is training
windows over the seconds spent in ``keras.Model.fit`` (one epoch and its validation pass);
"train s" is all of ``forecaster.train``; CPU s is the child's user + system time. Runs are
repeated (``--repeat``, alternating before and now) and the fastest fit is shown with the
highest peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import table, write_results  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BASELINE = "dc03cc8"  # main before issue 20: windows materialised as float64, float32 and tf.data copies
HOURS = 8760
COLUMNS = [f"c{k}" for k in range(1, 8)]


def fleet(sensors: int, seed: int = 0):
    """``sensors`` sensor-years of hourly readings in long format (``sensor, ts, c1..c7``)."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    t = np.arange(HOURS)
    ts = pd.date_range("2025-01-01", periods=HOURS, freq="1h", tz="UTC")
    parts = []
    for k in range(sensors):
        values = {c: (10 + j + np.sin(2 * np.pi * t / 24 + k + j) + 0.3 * rng.standard_normal(HOURS)).astype("float64")
                  for j, c in enumerate(COLUMNS)}
        parts.append(pd.DataFrame({"sensor": f"s{k:04d}", "ts": ts, **values}))
    return pd.concat(parts, ignore_index=True)


def child(sensors: int, units: int, batch_size: int) -> None:
    """One run: generate, fit one epoch, print a JSON line (this process's peak RSS is read by the parent)."""
    import forecaster
    from forecaster.nn.training import keras  # TensorFlow quieted first
    from pipelines import WindowSpec

    spent = {"fit": 0.0}
    plain_fit = keras.Model.fit

    def timed_fit(self, *args, **kwargs):
        began = time.perf_counter()
        try:
            return plain_fit(self, *args, **kwargs)
        finally:
            spent["fit"] += time.perf_counter() - began

    keras.Model.fit = timed_fit
    frame = fleet(sensors)
    frame_rss = rss_mb()
    spec = WindowSpec(input_steps=96, horizon=24, features=COLUMNS, targets=["c7"])
    began = time.perf_counter()
    model = forecaster.train(frame, spec, cell="gru", units=units, segment=24, epochs=1, batch_size=batch_size,
                             name="memory")
    total = time.perf_counter() - began
    print(json.dumps({"code": str(Path(forecaster.__file__).parent.parent), "frame_rss_mb": frame_rss,
                      "windows": model.window_counts_, "fit_seconds": spent["fit"], "train_seconds": total,
                      "test_mae": model.metrics_["mae"]["c7"]}))


def rss_mb() -> float:
    """This process's resident set now, in MB (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run(code: Path, sensors: int, args: argparse.Namespace) -> dict:
    """One child on the library at ``code``; its result with its own peak RSS in MB."""
    env = {**os.environ, "PYTHONPATH": str(code), "TF_CPP_MIN_LOG_LEVEL": "2"}
    command = [sys.executable, __file__, "--child", str(sensors), "--units", str(args.units),
               "--batch-size", str(args.batch_size)]
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read()
    if proc.returncode != 0:
        return {"failed": proc.returncode}
    result = json.loads(text.strip().splitlines()[-1])
    return {**result, "peak_rss_mb": usage.ru_maxrss / 1024, "cpu_seconds": usage.ru_utime + usage.ru_stime}


def best(runs: list[dict]) -> dict:
    """Of repeated runs: the fastest fit, the highest peak RSS (the machine is shared and noisy)."""
    done = [r for r in runs if "failed" not in r]
    if not done:
        return runs[0]
    fastest = min(done, key=lambda r: r["fit_seconds"])
    return {**fastest, "peak_rss_mb": max(r["peak_rss_mb"] for r in done), "runs": len(done),
            "cpu_seconds": min(r["cpu_seconds"] for r in done)}


def baseline_tree(ref: str) -> Path:
    """``ref`` checked out in a temporary git worktree (removed by `remove_tree`)."""
    path = Path(tempfile.mkdtemp(prefix="train-memory-baseline-"))
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--force", str(path), ref],
                   check=True, capture_output=True)
    return path


def remove_tree(path: Path) -> None:
    subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(path)], check=False,
                   capture_output=True)


def row(label: str, sensors: int, r: dict) -> list[object]:
    if "failed" in r:
        return [sensors, label, "-", "-", "-", "-", f"failed (exit {r['failed']})"]
    train = r["windows"]["train"]
    return [sensors, label, train, round(r["peak_rss_mb"]), round(train / r["fit_seconds"]), round(r["train_seconds"], 1),
            round(r["cpu_seconds"], 1), f"{r['test_mae']:.4f}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,50,200", help="Sensor-years per run (comma list).")
    parser.add_argument("--old-max", type=int, default=50,
                        help="Largest size to run the baseline on (it needs about 110 MB per sensor-year).")
    parser.add_argument("--baseline", default=BASELINE, help="The git revision that materialised the windows.")
    parser.add_argument("--repeat", type=int, default=2, help="Runs per size and code (best fit time kept).")
    parser.add_argument("--units", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.units, args.batch_size)
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    old_tree = baseline_tree(args.baseline) if any(s <= args.old_max for s in sizes) else None
    rows, results = [], {}
    try:
        for sensors in sizes:
            codes = {"now": ROOT}
            if old_tree is not None and sensors <= args.old_max:
                codes = {f"before ({args.baseline})": old_tree, **codes}
            runs: dict[str, list[dict]] = {label: [] for label in codes}
            for _ in range(args.repeat):  # alternated, so that load on the machine hits both alike
                for label, code in codes.items():
                    runs[label].append(run(code, sensors, args))
            for label in codes:
                results[f"{label}/{sensors}"] = runs[label]
                rows.append(row(label, sensors, best(runs[label])))
            print(table(HEADERS, rows[-len(codes):]), flush=True)
    finally:
        if old_tree is not None:
            remove_tree(old_tree)
    print(f"\nsettings: hourly, 7 columns, input_steps 96, horizon 24, one target; GRU units {args.units}, "
          f"segments of 24, batch {args.batch_size}, 1 epoch; {os.cpu_count()} cores\n")
    print(table(HEADERS, rows))
    write_results("train_memory", {"settings": vars(args), "runs": results})


HEADERS = ["sensor-years", "code", "train windows", "peak RSS MB", "windows/s (fit)", "train s (all)", "CPU s",
           "test MAE"]

if __name__ == "__main__":
    main()
