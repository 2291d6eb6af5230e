"""End-to-end latency of `forecaster serve`: reading published -> forecast received.

One command (from the repository root):

    python benchmarks/serve_latency.py                 # trains a tiny bundle first
    python benchmarks/serve_latency.py --model BUNDLE  # or use yours (7 ETT features)

It starts its own Mosquitto on a free port (tests/mqtt_broker.py), the daemon as a real
process, fills each sensor's window, then sends rounds of one reading per sensor at the
same moment and times each sensor's forecast. Prints p50 / p99 / max per scenario.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from mqtt_broker import Broker, Collector, free_port  # noqa: E402

from pipelines import read_csv  # noqa: E402
from pipelines.mqtt_source import BrokerAddress, MqttClient, MqttSettings  # noqa: E402
from pipelines.payloads import encode_reading  # noqa: E402

FEATURES = ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]


def tiny_bundle(directory: Path) -> Path:
    """Train a small LSTM (input 24, horizon 6) in a child process; returns the bundle path."""
    out = directory / "tiny"
    subprocess.run(
        [sys.executable, "-m", "forecaster", "-q", "train", "--data", str(ROOT / "data" / "ETTh1.csv"), "--out", str(out),
         "--features", ",".join(FEATURES), "--targets", "OT", "--input-steps", "24", "--horizon", "6",
         "--units", "16", "--epochs", "1", "--no-progress"],
        cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
    )
    return out


def wait_ready(port: int, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("serve did not become ready")


def scenario(url: str, n_sensors: int, rounds: int, rows: np.ndarray, times, input_steps: int) -> list[float]:
    """Latencies in milliseconds for ``rounds`` rounds of ``n_sensors`` simultaneous readings."""
    prefix = f"n{n_sensors}-"
    sent: dict[tuple[str, str], float] = {}
    latencies: list[float] = []
    done = threading.Condition()
    expected: set[tuple[str, str]] = set()

    def on_forecast(topic: str, payload: bytes, received: float) -> None:
        body = json.loads(payload)
        key = (body["sensor"], body["issued_at"])
        with done:
            if key in sent:
                latencies.append((received - sent[key]) * 1e3)
                expected.discard(key)
                done.notify_all()

    collector = Collector(url, "forecasts/+", client_id=f"bench-collector-{n_sensors}", hook=on_forecast)
    publisher = MqttClient(MqttSettings(broker=BrokerAddress.parse(url), client_id=f"bench-sensors-{n_sensors}"))
    publisher.start()
    publisher.wait_connected(10)
    sensors = [f"{prefix}{k}" for k in range(n_sensors)]
    for i in range(input_steps - 1):  # fill the windows up to one row short
        for s in sensors:
            publisher.publish(f"sensors/{s}/readings", encode_reading(times[i], FEATURES, rows[i]), qos=1)
    publisher.flush(60)
    time.sleep(1.0)
    warmup = 3
    for r in range(rounds + warmup):
        i = input_steps - 1 + r
        stamp = times[i].strftime("%Y-%m-%dT%H:%M:%SZ")
        payload = encode_reading(times[i], FEATURES, rows[i])
        with done:
            expected.update((s, stamp) for s in sensors)
        for s in sensors:
            sent[(s, stamp)] = time.monotonic()
            publisher.publish(f"sensors/{s}/readings", payload, qos=1)
        with done:
            if not done.wait_for(lambda: not expected, timeout=30):
                raise SystemExit(f"{len(expected)} forecasts missing in round {r} of {n_sensors} sensors")
            if r < warmup:
                latencies.clear()
        time.sleep(0.05)
    publisher.stop()
    collector.close()
    return latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="bundle directory [default: train a tiny one]")
    parser.add_argument("--rounds", type=int, default=100, help="rounds per scenario")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        bundle = Path(args.model) if args.model else tiny_bundle(tmp)
        input_steps = json.loads((bundle / "bundle.json").read_text())["spec"]["input_steps"]
        frame = read_csv(ROOT / "data" / "ETTh1.csv").iloc[: input_steps + args.rounds + 10]
        rows, times = frame[FEATURES].to_numpy(), list(frame["date"])
        broker = Broker(tmp / "mosquitto").start()
        port = free_port()
        serve = subprocess.Popen(
            [sys.executable, "-m", "forecaster", "-q", "serve", "--model", str(bundle), "--broker", broker.url,
             "--client-id", "bench-serve", "--metrics-port", str(port)],
            cwd=ROOT,
        )
        try:
            wait_ready(port)
            results = {n: scenario(broker.url, n, args.rounds, rows, times, input_steps) for n in (1, 100)}
        finally:
            serve.send_signal(signal.SIGTERM)
            serve.wait(30)
            broker.kill()
    print(f"end-to-end latency, reading published -> forecast received ({args.rounds} rounds, QoS 1, local Mosquitto)")
    print(f"{'sensors':>8} {'forecasts':>10} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for n, lat in results.items():
        a = np.array(lat)
        print(f"{n:>8} {len(a):>10} {np.percentile(a, 50):>8.1f} {np.percentile(a, 99):>8.1f} {a.max():>8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
