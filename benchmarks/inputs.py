"""Per-sensor scaling and calendar inputs against the default (global scaling, no calendar).

Three data sets, each with the default model (``forecaster.train`` defaults, a few epochs):
- **ETTh1** (``data/ETTh1.csv``, the same file as the ETT copy in shared data), OT from OT,
  96 -> 24: default vs ``calendar="hour,dow"``. One sensor: its per-sensor statistics are the
  global ones, so ``scale="per-sensor"`` is the default model (checked, not trained).
- **two transformers** (``data/ett_two_transformers.csv``, etth1 and etth2), OT from OT, 96 -> 24:
  default vs ``scale="per-sensor"`` vs ``calendar="hour,dow"``.
- **rooms and freezers** (generated): 4 rooms at 18-24 C with daily cycles of 2-3 C and 4 freezers
  at -22..-18 C with cycles of 0.3-0.6 C (defrost bumps), hourly for 120 days, temp from temp,
  48 -> 24: default vs ``scale="per-sensor"`` vs ``calendar="hour,dow"``.

Each cell is the mean over the seeds of the test MAE in sensor units (pooled over sensors; for the
fleet also per group, and the mean over sensors of MAE / naive MAE, a scale-free skill) and the
training wall time (``train`` including calibration and test metrics); ratios are against the
default run of the same seed, in the same process. Writes ``results/inputs.json``.

Example:
    python benchmarks/inputs.py                    # 3 seeds, 8 epochs: about 15 min here
    python benchmarks/inputs.py --seeds 1 --epochs 2
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from common import table, write_results  # noqa: E402

VARIANTS = {"default": {}, "per-sensor": {"scale": "per-sensor"}, "calendar hour,dow": {"calendar": "hour,dow"}}


def fleet_frame(days: int = 120, seed: int = 7) -> pd.DataFrame:
    """Rooms (18-24 C, daily cycles of 2-3 C) and freezers (-22..-18 C, cycles of 0.3-0.6 C and a
    defrost bump every 8 hours), hourly, with AR(1) noise proportional to each sensor's cycle."""
    rng = np.random.default_rng(seed)
    times = pd.date_range("2026-01-05", periods=24 * days, freq="h")
    hour = times.hour.to_numpy()
    weekend = (times.day_of_week.to_numpy() >= 5).astype(float)
    parts = []
    for k in range(8):
        room = k < 4
        level = rng.uniform(18, 24) if room else rng.uniform(-22, -18)
        amp = rng.uniform(2, 3) if room else rng.uniform(0.3, 0.6)
        cycle = amp * np.sin(2 * np.pi * (hour - 9 - k) / 24)
        if room:
            cycle = cycle - 0.8 * amp * weekend  # heating set back at weekends
        else:
            cycle = cycle + 2 * amp * (hour % 8 == 3)  # defrost
        noise = np.zeros(len(times))
        shocks = rng.normal(0, 0.15 * amp, len(times))
        for i in range(1, len(times)):
            noise[i] = 0.8 * noise[i - 1] + shocks[i]
        name = f"room-{k}" if room else f"freezer-{k}"
        parts.append(pd.DataFrame({"sensor": name, "time": times, "temp": level + cycle + noise}))
    return pd.concat(parts, ignore_index=True)


def per_sensor_scores(model, frame) -> pd.DataFrame:
    """Test MAE and naive MAE of each sensor, in sensor units."""
    from forecaster.evaluate.scores import split_windows
    from pipelines.split import TEST

    test = split_windows(model, frame)[0][TEST]
    forecast = model.predict_windows(test.X, sensors=test.sensor, ends=test.origin)
    naive = np.repeat(test.history[:, -1:, :], model.spec.horizon, axis=1)
    rows = pd.DataFrame({"sensor": test.sensor, "mae": np.abs(forecast - test.y).mean(axis=(1, 2)),
                         "naive": np.abs(naive - test.y).mean(axis=(1, 2))})
    return rows.groupby("sensor").mean()


def run(frame, spec, options: dict, *, epochs: int, seed: int, fleet: bool) -> dict:
    """Train one model; its test MAE (and, for the fleet, per group and skill) and seconds."""
    import forecaster

    start = time.perf_counter()
    model = forecaster.train(frame, spec, epochs=epochs, seed=seed, intervals="none", **options)
    out = {"seconds": time.perf_counter() - start, "mae": model.metrics_["mae"][spec.targets[0]],
           "epochs": len(model.history_["loss"])}
    if fleet:
        scores = per_sensor_scores(model, frame)
        rooms = scores.index.str.startswith("room")
        out |= {"rooms": float(scores["mae"][rooms].mean()), "freezers": float(scores["mae"][~rooms].mean()),
                "skill": float((scores["mae"] / scores["naive"]).mean())}
    return out


def datasets() -> dict:
    from pipelines import WindowSpec, read_csv

    ett = WindowSpec(input_steps=96, horizon=24, features=["OT"], targets=["OT"])
    return {
        "ETTh1": (read_csv(ROOT / "data" / "ETTh1.csv"), ett, ("default", "calendar hour,dow"), False),
        "two transformers": (read_csv(ROOT / "data" / "ett_two_transformers.csv", sensor_col="sensor"), ett,
                             tuple(VARIANTS), False),
        "rooms and freezers": (fleet_frame(), WindowSpec(input_steps=48, horizon=24, features=["temp"],
                                                         targets=["temp"]), tuple(VARIANTS), True),
    }


def check_one_sensor_is_global(frame, spec) -> bool:
    """On one sensor, the per-sensor statistics equal the global ones (so the model is the default's)."""
    from forecaster.model import Forecaster
    from forecaster.params import ModelParams

    model = Forecaster(spec=spec, params=ModelParams(scale="per-sensor"))
    model._prepare(frame)
    (only,) = model.sensor_scalers_.scalers.values()
    return bool(np.allclose(only.mean_, model.scaler_.mean_) and np.allclose(only.scale_, model.scaler_.scale_))


@click.command()
@click.option("--seeds", default=3, show_default=True, help="Seeds per variant (0, 1, ...).")
@click.option("--epochs", default=8, show_default=True, help="Most epochs per run.")
def main(seeds: int, epochs: int) -> None:
    """Per-sensor scaling and calendar inputs against the default; prints a table per data set."""
    from forecaster.nn.tf_env import quiet_tensorflow

    quiet_tensorflow()
    results: dict = {"seeds": seeds, "epochs": epochs}
    for name, (frame, spec, variants, fleet) in datasets().items():
        runs = {v: [run(frame, spec, VARIANTS[v], epochs=epochs, seed=s, fleet=fleet) for s in range(seeds)]
                for v in variants}
        results[name] = runs
        base = runs["default"]
        keys = ["mae", "rooms", "freezers", "skill"] if fleet else ["mae"]
        rows = []
        for v, items in runs.items():
            mean = {k: float(np.mean([r[k] for r in items])) for k in [*keys, "seconds"]}
            ratio = float(np.mean([r["mae"] / b["mae"] for r, b in zip(items, base)]))
            time_ratio = float(np.mean([r["seconds"] / b["seconds"] for r, b in zip(items, base)]))
            rows.append([v, *(f"{mean[k]:.3f}" for k in keys), f"{ratio:.3f}", f"{mean['seconds']:.0f}",
                         f"{time_ratio:.2f}"])
        if name == "ETTh1":
            same = check_one_sensor_is_global(frame, spec)
            results[name]["per_sensor_is_global"] = same
            rows.append(["per-sensor", "= default" if same else "DIFFERS", "", "", ""])
        print(f"\n{name} ({len(frame)} rows, {spec.input_steps} -> {spec.horizon}, {seeds} seed(s), "
              f"{epochs} epoch(s))")
        print(table(["variant", *(f"test {k}" if k == "mae" else k for k in keys), "MAE / default", "train s",
                     "time / default"], rows))
    write_results("inputs", results)


if __name__ == "__main__":
    main()
