"""Shared helpers for benchmark scripts: timing, tables, results files, a reference model."""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"


def wait_ready(process, port: int, timeout: float, what: str = "the daemon") -> None:
    """Wait until ``forecaster serve`` (``process``) answers ``/readyz`` on ``port`` with 200.

    Raises:
        RuntimeError: it exited first, or was not ready within ``timeout`` seconds.
    """
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not become ready within {timeout:g} s")


def best_of(fn: Callable[[], object], repeat: int = 3) -> float:
    """The fastest of ``repeat`` timed calls, in seconds (the machine is shared and noisy)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A markdown table."""
    def cell(v: object) -> str:
        return f"{v:,.1f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def write_results(name: str, data: dict) -> Path:
    """Write ``benchmarks/results/<name>.json`` with machine facts."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    import os

    full = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version()}, **data}
    path.write_text(json.dumps(full, indent=2) + "\n")
    return path


def reference_network(input_steps: int = 96, n_features: int = 7, horizon: int = 24, units: int = 64, layers: int = 2):
    """The issue's reference model: a 2x64 LSTM, 96 x 7 in, 24 x 7 out (untrained weights)."""
    from forecaster.nn.recurrent import build_model

    return build_model(input_steps=input_steps, n_features=n_features, horizon=horizon, n_targets=n_features,
                       layers=layers, units=units, residual_index=list(range(n_features)))


def percentile_ms(seconds: Sequence[float], q: float) -> float:
    """The ``q``-th percentile of durations, in milliseconds."""
    return float(np.percentile(np.asarray(seconds) * 1000, q)) if len(seconds) else float("nan")


def reference_bundle(directory: Path, *, export: bool = False, intervals: bool = False) -> Path:
    """Save the reference 2x64 LSTM (untrained, seeded: speed does not depend on weights) as a
    forecast bundle on a 1 h cadence with the 7 ETT columns; optionally with its TFLite export
    and with prediction intervals at 0.8 and 0.95 (calibrated on random residuals wide enough that
    the benchmark's readings are not anomalies: a real fleet flags few readings)."""
    from parts import from_parts  # this folder is on sys.path wherever common is imported

    from forecaster.nn.training import set_seed
    from forecaster.params import ModelParams
    from pipelines import Scaler, WindowSpec

    columns = ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]
    set_seed(0)
    scaler = Scaler(columns=columns).fit(np.random.default_rng(1).normal(size=(100, 7)))
    model = from_parts(spec=WindowSpec(input_steps=96, horizon=24, features=columns, targets=columns),
                       params=ModelParams(cell="lstm", layers=2, units=64, segment=0), network=reference_network(),
                       scaler=scaler, freq="1h", time_col="date", name="reference-2x64-lstm")
    if intervals:
        from pipelines.conformal import Conformal

        rng = np.random.default_rng(2)
        actual, history = 100 * rng.normal(size=(200, 24, 7)), rng.normal(size=(200, 96, 7))
        model.intervals_ = Conformal(levels=(0.8, 0.95)).fit(actual, np.zeros_like(actual), history)
    model.save(directory)
    if export:
        from forecaster.export import export_tflite

        export_tflite(directory)
    return directory


def serve_readings(url: str, client_id: str, handle: Callable, *, status_topic: str | None = None) -> int:
    """Run a comparison daemon: subscribe to ``sensors/+/readings`` (QoS 1), call
    ``handle(client, topic, payload)`` for each message in paho's network thread, print
    ``ready`` once connected (``serve_latency.py`` waits for that line), stop on SIGTERM/SIGINT."""
    import signal
    import threading

    from forecaster.serve.mqtt_client import MqttClient
    from forecaster.serve.mqtt_settings import BrokerAddress, MqttSettings

    relay = _Relay(handle)
    client = MqttClient(MqttSettings(broker=BrokerAddress.parse(url), client_id=client_id),
                        subscriptions=[("sensors/+/readings", 1)], on_message=relay.on_message, status_topic=status_topic)
    relay.client = client
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    client.start()
    if not client.wait_connected(60):
        return 1
    print("ready", flush=True)
    stop.wait()
    client.stop()
    return 0


class _Relay:
    """Hands each message to ``handle(client, topic, payload)`` with the client that received
    it (set once the client exists; messages only arrive after ``client.start()``)."""

    def __init__(self, handle: Callable) -> None:
        self.handle = handle
        self.client = None

    def on_message(self, topic: str, payload: bytes) -> None:
        self.handle(self.client, topic, payload)
