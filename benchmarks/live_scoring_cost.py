"""What live scoring costs the daemon per reading (issue 21), measured in one process.

    .venv/bin/python benchmarks/live_scoring_cost.py [--sensors 1000] [--rounds 20] [--repeats 5]

Drives `forecaster.serve.service.ForecastService` directly (no broker: the MQTT part is the same
with or without scoring) with the reference 2x64 LSTM bundle (96 x 7 in, 24 x 7 out) carrying
0.8/0.95 intervals, published in every forecast. ``--sensors`` windows are filled, then each
sensor sends ``--rounds`` readings in batches of 50 (each reading completes a window: one
forecast per reading). Three services are timed in turn, ``--repeats`` times, interleaved so that
the machine's noise falls on all three alike: live scoring off (`serve --no-live-scoring`), on (the
default: errors, naive errors and coverage per step on ``/metrics``), and on with anomaly flags.
Prints the median worker time per reading and the ratio to "off".
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from common import reference_bundle, table, write_results  # noqa: E402

LEVELS = (0.8, 0.95)
BATCH = 50
T0 = pd.Timestamp("2026-01-01", tz="UTC")


class Discard:
    """A publisher that drops every message and says it went out (the cost measured is the worker's)."""

    def publish(self, *args: object, **kwargs: object) -> bool:
        return True


def readings(features: int, sensors: int, rounds: int) -> list[list]:
    """Per slot, one reading of every sensor (random values: speed does not depend on them)."""
    from pipelines.payloads import Reading

    values = np.random.default_rng(0).normal(size=(rounds, sensors, features))
    names = [f"s{i}" for i in range(sensors)]
    return [[Reading(s, T0 + pd.Timedelta(hours=r), tuple(values[r, i])) for i, s in enumerate(names)]
            for r in range(rounds)]


def timed(model, mode: str, slots: list[list], fill: int) -> float:
    """Microseconds of worker time per reading after the windows are full, for ``mode``."""
    from forecaster.serve.live_scoring import NoScoring, live_scoring
    from forecaster.serve.service import ForecastService
    from forecaster.serve.telemetry import Metrics
    from pipelines.payloads import ParseRules

    metrics, publisher = Metrics(), Discard()
    live = NoScoring() if mode == "off" else live_scoring(
        model, LEVELS, metrics, publisher=publisher, anomaly_topic="anomalies/{sensor}" if mode == "anomalies" else None)
    service = ForecastService(model, rules=ParseRules(subscription="sensors/+/readings", features=tuple(model.spec.features)),
                              publisher=publisher, intervals=LEVELS, metrics=metrics, live=live)
    for batch in slots[:fill]:
        service.process(batch)
    before, start = service.metrics.forecasts._value.get(), time.perf_counter()
    for batch in slots[fill:]:
        for first in range(0, len(batch), BATCH):
            service.process(batch[first:first + BATCH])
    seconds = time.perf_counter() - start
    if service.metrics.forecasts._value.get() - before != sum(map(len, slots[fill:])):
        raise RuntimeError("not every reading made a forecast: the run measured something else")
    return seconds / sum(map(len, slots[fill:])) * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sensors", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=20, help="readings per sensor after the windows are full")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # the discarding publisher is not connected
    import forecaster

    with tempfile.TemporaryDirectory() as tmp:
        model = forecaster.load(reference_bundle(Path(tmp) / "bundle", intervals=True))
    fill = model.spec.input_steps
    slots = readings(len(model.spec.features), args.sensors, fill + args.rounds)
    results: dict[str, list[float]] = {"off": [], "on": [], "anomalies": []}
    for _ in range(args.repeats):
        for mode, times in results.items():
            times.append(timed(model, mode, slots, fill))
    off = statistics.median(results["off"])
    print(f"worker time per reading: {args.sensors} sensors, batches of {BATCH}, 2x64 LSTM 96x7 -> 24x7 with "
          f"0.8/0.95 bands, median of {args.repeats} interleaved runs")
    print(table(["live scoring", "us/reading (median)", "min", "ratio to off", "added us/reading"],
                [[mode, f"{statistics.median(t):.0f}", f"{min(t):.0f}", f"{statistics.median(t) / off:.3f}",
                  f"{statistics.median(t) - off:+.0f}"] for mode, t in results.items()]))
    path = write_results("live_scoring_cost", {"args": vars(args), "us_per_reading": results})
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
