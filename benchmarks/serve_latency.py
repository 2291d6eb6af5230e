"""`forecaster serve` under load: publish-to-forecast latency, losses, saturation throughput,
beside a naive daemon that calls Keras `model.predict` per message, in the same run.

    .venv/bin/python benchmarks/serve_latency.py [--sensors 1 100 1000] [--seconds 30] [--rate 1]

Starts its own Mosquitto on a free port (tests/mqtt_broker.py: `set_tcp_nodelay true`,
`max_queued_messages 100000`, like deploy/mosquitto.conf), a 2x64 LSTM bundle (96 x 7 in,
24 x 7 out), and each daemon as a real process. For each N: fill every sensor's window, then
N sensors each publish `--rate` readings per second for `--seconds` (paced in 10 ms slices,
payloads made in advance, QoS 1, written to the socket by the publishing thread itself); each reading's latency runs from its own publish to the
receipt of the forecast it triggers (matched by sensor and `issued_at`). Then a saturation
run: the sensors publish flat out and we count forecasts per second. The naive daemon runs
the N=1 paced scenario and its own saturation run (it cannot keep up with more). A floor
row comes first among the comparisons: `echo_daemon.py` answers each reading at once without
a model, so its latency is the broker and MQTT-client part that no daemon here can avoid.
"""

from __future__ import annotations

import argparse
import gc
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT / "tests"), str(ROOT)]

from common import percentile_ms, reference_bundle, table, wait_ready, write_results  # noqa: E402
from mqtt_broker import Broker, free_port  # noqa: E402

from forecaster.serve.mqtt_client import MqttClient  # noqa: E402
from forecaster.serve.mqtt_settings import BrokerAddress, MqttSettings  # noqa: E402
from pipelines.payloads import encode_reading, format_timestamp  # noqa: E402

FEATURES = ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]
INPUT_STEPS = 96
START = pd.Timestamp("2026-01-01", tz="UTC")
FORECAST_KEY = re.compile(rb'\{"sensor":"([^"]*)","issued_at":"([^"]*)"')
STEP = pd.Timedelta("1h")


class Probe:
    """Publishes readings and matches the forecasts that come back (one process, two clients)."""

    def __init__(self, url: str, tag: str) -> None:
        self.sent: dict[tuple[str, str], float] = {}
        self.latency: dict[tuple[str, str], float] = {}
        self.received_at: list[float] = []
        self._lock = threading.Lock()
        address = BrokerAddress.parse(url)
        self.collector = MqttClient(MqttSettings(broker=address, client_id=f"bench-collect-{tag}"),
                                    subscriptions=[("forecasts/+", 1)], on_message=self._on_forecast)
        # the publisher has no network thread: `publish` writes to the socket at once, so a
        # reading's clock starts when it leaves, not when a generator thread gets the GIL
        self.publisher = MqttClient(MqttSettings(broker=address, client_id=f"bench-publish-{tag}"))
        self._published = 0
        self.collector.start()
        self.publisher.start(background=False)
        deadline = time.monotonic() + 10
        while not self.publisher.connected.is_set() and time.monotonic() < deadline:
            self.publisher.poll(0.05)
        if not (self.collector.wait_connected(10) and self.publisher.connected.is_set()):
            raise SystemExit("benchmark clients could not connect")
        self.wait(0.3)

    def _on_forecast(self, _topic: str, payload: bytes) -> None:
        now = time.monotonic()
        found = FORECAST_KEY.match(payload)  # cheaper than json.loads: the generator shares the 2 cores
        key = (found.group(1).decode(), found.group(2).decode())
        with self._lock:
            self.received_at.append(now)
            sent = self.sent.get(key)
            if sent is not None and key not in self.latency:
                self.latency[key] = now - sent

    def publish(self, sensor: str, k: int, payload: bytes, *, track: bool) -> None:
        if track:
            self.sent[(sensor, format_timestamp(START + k * STEP))] = time.monotonic()
        self.publisher.publish(f"sensors/{sensor}/readings", payload, qos=1)
        self._published += 1
        if self._published % 64 == 0:  # read PUBACKs so that QoS 1 in-flight slots free up
            self.publisher.poll(0)

    def wait(self, seconds: float) -> None:
        """Sleep while serving the publisher's connection (PUBACKs, keep-alive)."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self.publisher.poll(left)

    def wait_for(self, keys: list[tuple[str, str]], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if all(k in self.latency for k in keys):
                    return True
            self.wait(0.02)
        return False

    def close(self) -> None:
        self.publisher.stop()
        self.collector.stop()


def payloads(rows: int) -> list[bytes]:
    """Reading ``k`` of every sensor (the same values for all sensors; made in advance)."""
    values = np.sin(np.arange(rows)[:, None] / 24 * 2 * np.pi + np.arange(7)) * 3 + 10
    return [encode_reading(START + k * STEP, FEATURES, values[k]) for k in range(rows)]


def fill(probe: Probe, sensors: list[str], data: list[bytes]) -> int:
    """Send the first INPUT_STEPS readings of every sensor; wait for the forecasts of the last."""
    for k in range(INPUT_STEPS - 1):
        for s in sensors:
            probe.publish(s, k, data[k], track=False)
    k = INPUT_STEPS - 1
    for s in sensors:
        probe.publish(s, k, data[k], track=True)
    if not probe.wait_for([(s, format_timestamp(START + k * STEP)) for s in sensors], timeout=300):
        raise SystemExit(f"the daemon did not forecast for all {len(sensors)} filled sensors")
    return k + 1


def paced(probe: Probe, sensors: list[str], data: list[bytes], first: int, seconds: float, rate: float) -> dict:
    """Each sensor publishes ``rate`` readings per second for ``seconds``, spread in 10 ms slices."""
    rounds = int(seconds * rate)
    slices = max(1, int(round(100 / rate)))  # 10 ms slices per round
    per_slice = -(-len(sensors) // slices)
    keys = []
    start = time.monotonic() + 0.1
    for r in range(rounds):
        k = first + r
        for j in range(slices):
            due = start + r / rate + j * 0.01
            delay = due - time.monotonic()
            if delay > 0:
                probe.wait(delay)
            for s in sensors[j * per_slice : (j + 1) * per_slice]:
                probe.publish(s, k, data[k], track=True)
                keys.append((s, format_timestamp(START + k * STEP)))
    probe.wait_for(keys, timeout=10)
    lat = [probe.latency[key] for key in keys if key in probe.latency]
    return {"readings": len(keys), "forecasts": len(lat), "lost": len(keys) - len(lat),
            "p50_ms": percentile_ms(lat, 50), "p99_ms": percentile_ms(lat, 99), "max_ms": percentile_ms(lat, 100)}


def saturation(probe: Probe, sensors: list[str], data: list[bytes], first: int, rounds: int, timeout: float) -> dict:
    """All sensors publish ``rounds`` readings each, flat out; forecasts per second received."""
    before = len(probe.received_at)
    keys = []
    start = time.monotonic()
    for r in range(rounds):
        k = first + r
        for s in sensors:
            probe.publish(s, k, data[k], track=True)
            keys.append((s, format_timestamp(START + k * STEP)))
    published_s = time.monotonic() - start
    last_keys = [(s, format_timestamp(START + (first + rounds - 1) * STEP)) for s in sensors]
    probe.wait_for(last_keys, timeout=timeout)
    times = probe.received_at[before:]
    span = (times[-1] - start) if times else float("nan")
    return {"readings": len(keys), "forecasts": len(times), "seconds": span, "publish_s": published_s,
            "forecasts_per_s": len(times) / span if times else 0.0,
            "readings_per_s": len(keys) / span if times else 0.0}


def start_daemon(command: list[str], metrics_port: int | None = None, cwd: Path = ROOT) -> subprocess.Popen:
    """Start a daemon process and wait until it serves: `forecaster serve` answers ``/readyz``
    on ``metrics_port``; the comparison daemons print ``ready`` (`common.serve_readings`)."""
    if metrics_port is None:
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        if process.stdout.readline().strip() != "ready":
            raise SystemExit(f"{Path(command[1]).name} did not connect to the broker")
        return process
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL)
    try:
        wait_ready(process, metrics_port, 180, "serve")
    except RuntimeError as exc:
        raise SystemExit(str(exc)) from None
    return process


def stop_daemon(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sensors", type=int, nargs="+", default=[1, 100, 1000])
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each paced run")
    parser.add_argument("--rate", type=float, default=1.0, help="readings per second per sensor")
    parser.add_argument("--saturation-rounds", type=int, default=20, help="readings per sensor in the saturation run")
    parser.add_argument("--naive-readings", type=int, default=150, help="readings in the naive saturation run")
    parser.add_argument("--runtime", default="keras", choices=["keras", "tflite"])
    parser.add_argument("--threads", type=int, default=0, help="serve --threads (0: all cores)")
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--skip-echo", action="store_true")
    parser.add_argument("--with-state", action="store_true",
                        help="also run ours with --state-file (journal, acks after fsync), in the same run")
    parser.add_argument("--state-interval", type=float, default=60.0, help="serve --state-interval with --with-state")
    parser.add_argument("--intervals", action="store_true",
                        help="the bundle has 0.8/0.95 intervals; ours (and the baseline) publish both, ours also "
                             "flags anomalies on anomalies/{sensor} (the live scoring's full cost)")
    parser.add_argument("--with-redis", action="store_true",
                        help="also run ours with --state-store (a redis-server of its own, append-only), in the same run")
    parser.add_argument("--redis-fsync", default="always", choices=["always", "everysec"],
                        help="the Redis appendfsync of --with-redis")
    parser.add_argument("--baseline-root", type=Path, default=None,
                        help="also run `forecaster serve` from this checkout (e.g. a git worktree of an older commit)")
    return parser.parse_args()


def run_ours(url: str, bundle: Path, data: list[bytes], args: argparse.Namespace, results: dict[str, dict],
             label: str = "ours", extra: Sequence[str] = (), root: Path = ROOT) -> None:
    """`forecaster serve` (from the checkout ``root``, with ``extra`` flags): paced runs for each
    N, then a saturation run at the largest N."""
    port = free_port()
    ours = start_daemon([sys.executable, "-m", "forecaster", "-q", "serve", "--model", str(bundle),
                         "--broker", url, "--client-id", f"bench-{label}", "--metrics-port", str(port),
                         "--runtime", args.runtime, "--threads", str(args.threads), *extra], port, cwd=root)
    try:
        run_scenarios(url, data, args, results, label)
        results[f"{label} memory"] = {**memory_mb(ours.pid), **store_seconds(port)}
    finally:
        stop_daemon(ours)


def memory_mb(pid: int) -> dict:
    """The daemon's resident memory now and at its peak (``/proc``), in MB."""
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return {key: int(status[name].split()[0]) / 1024 for key, name in (("rss_mb", "VmRSS"), ("peak_mb", "VmHWM"))}


def store_seconds(port: int) -> dict:
    """The daemon's time in the state store (Redis round trips) per accepted reading, if it has one."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    found = {name: float(value) for name, value in re.findall(r"^(forecaster_state_store_seconds_sum|"
                                                              r"forecaster_messages_total\{cause=\"ok\",result=\"accepted\"\}) "
                                                              r"([0-9.e+-]+)$", text, re.M)}
    if "forecaster_state_store_seconds_sum" not in found:
        return {}
    accepted = found.get('forecaster_messages_total{cause="ok",result="accepted"}', 0.0)
    return {"store_ms_per_reading": 1000 * found["forecaster_state_store_seconds_sum"] / max(accepted, 1.0)}


def run_scenarios(url: str, data: list[bytes], args: argparse.Namespace, results: dict[str, dict], label: str) -> None:
    """Paced runs for each N, then a saturation run at the largest N, against a running daemon."""
    for n in args.sensors:
        probe = Probe(url, f"{label}-{n}")
        sensors = [f"n{n}-{i}" for i in range(n)]
        first = fill(probe, sensors, data)
        results[f"{label} paced N={n}"] = paced(probe, sensors, data, first, args.seconds, args.rate)
        if n == max(args.sensors):
            first += int(args.seconds * args.rate)
            results[f"{label} saturation N={n}"] = saturation(
                probe, sensors, data, first, args.saturation_rounds, timeout=120)
        probe.close()


def run_with_redis(url: str, bundle: Path, data: list[bytes], args: argparse.Namespace, results: dict[str, dict],
                   tmp: Path) -> None:
    """Ours as one replica with its windows in Redis (a redis-server of its own: append-only file,
    ``--redis-fsync always`` puts every push on disk before the reading is acknowledged)."""
    from redis_server import RedisServer

    redis = RedisServer(tmp / "redis", appendfsync=args.redis_fsync).start()
    try:
        run_ours(url, bundle, data, args, results, "ours-redis",
                 ["--state-store", redis.url, "--share-group", "bench", "--persistent-session"])
    finally:
        redis.kill()


def run_echo(url: str, data: list[bytes], args: argparse.Namespace, results: dict[str, dict]) -> None:
    """The floor: `echo_daemon.py`, no model, paced N=1."""
    echo = start_daemon([sys.executable, str(HERE / "echo_daemon.py"), url, ",".join(FEATURES)])
    try:
        probe = Probe(url, "echo")
        first = fill(probe, ["echo-0"], data)
        results["floor: echo, no model, paced N=1"] = paced(probe, ["echo-0"], data, first, args.seconds,
                                                             args.rate)
        probe.close()
    finally:
        stop_daemon(echo)


def run_naive(url: str, bundle: Path, data: list[bytes], args: argparse.Namespace, results: dict[str, dict]) -> None:
    """`naive_daemon.py`: paced N=1, then its own (smaller) saturation run."""
    naive = start_daemon([sys.executable, str(HERE / "naive_daemon.py"), str(bundle), url])
    try:
        probe = Probe(url, "naive")
        first = fill(probe, ["naive-0"], data)
        results["naive paced N=1"] = paced(probe, ["naive-0"], data, first, args.seconds, args.rate)
        first += int(args.seconds * args.rate)
        n_sensors = max(1, args.naive_readings // 10)
        sensors = [f"naive-sat-{i}" for i in range(n_sensors)]
        first_sat = fill(probe, sensors, data)
        results[f"naive saturation N={n_sensors}"] = saturation(
            probe, sensors, data, first_sat, 10, timeout=120)
        probe.close()
    finally:
        stop_daemon(naive)


def report(results: dict[str, dict], args: argparse.Namespace) -> None:
    """Print the latency and saturation tables and write the results file."""
    paced_rows = [[name, r["readings"], r["lost"], f"{r['p50_ms']:.1f}", f"{r['p99_ms']:.1f}", f"{r['max_ms']:.1f}"]
                  for name, r in results.items() if "paced" in name]
    print(f"publish -> forecast latency, paced at {args.rate:g} reading/s per sensor for {args.seconds:g} s "
          f"(2x64 LSTM, 96x7 -> 24x7, QoS 1, local Mosquitto, runtime {args.runtime})")
    print(table(["scenario", "readings", "lost", "p50 ms", "p99 ms", "max ms"], paced_rows))
    sat_rows = [[name, r["readings"], r["forecasts"], f"{r['seconds']:.2f}", f"{r['forecasts_per_s']:.0f}",
                 f"{r.get('readings_per_s', 0):.0f}"] for name, r in results.items() if "saturation" in name]
    print("\nsaturation: readings published flat out (readings/s: until the forecast of the last one)")
    print(table(["scenario", "readings", "forecasts", "seconds", "forecasts/s", "readings/s"], sat_rows))
    memory = [[name.removesuffix(" memory"), f"{r['rss_mb']:.0f}", f"{r['peak_mb']:.0f}",
               f"{r['store_ms_per_reading']:.2f}" if "store_ms_per_reading" in r else "-"]
              for name, r in results.items() if name.endswith(" memory")]
    print("\nresident memory of the daemon at the end of its runs; time in Redis round trips per reading")
    print(table(["daemon", "RSS MB", "peak MB", "store ms/reading"], memory))
    redis_cost(results)
    ours_sat = [r["forecasts_per_s"] for name, r in results.items() if name.startswith("ours saturation")]
    naive_sat = [r["forecasts_per_s"] for name, r in results.items() if name.startswith("naive saturation")]
    if ours_sat and naive_sat and naive_sat[0] > 0:
        print(f"\nours / naive saturation throughput: {ours_sat[0] / naive_sat[0]:.0f}x")
    path = write_results("serve_latency", {"args": {k: str(v) for k, v in vars(args).items()}, "results": results})
    print(f"wrote {path}")


def redis_cost(results: dict[str, dict]) -> None:
    """What the Redis store costs beside the in-memory one, as ratios of this run."""
    pairs = [(name, name.replace("ours-redis", "ours")) for name in results if name.startswith("ours-redis ")]
    for redis_name, memory_name in pairs:
        a, b = results[redis_name], results.get(memory_name)
        if b is None or "memory" in redis_name:
            continue
        if "paced" in redis_name:
            print(f"{redis_name}: p50 {a['p50_ms'] / b['p50_ms']:.2f}x, p99 {a['p99_ms'] / b['p99_ms']:.2f}x the in-memory store")
        elif a["readings_per_s"] and b["readings_per_s"]:  # the in-memory daemon skips superseded windows
            extra_ms = 1000 / a["readings_per_s"] - 1000 / b["readings_per_s"]
            print(f"{redis_name}: {a['readings_per_s'] / b['readings_per_s']:.2f}x the in-memory readings/s, "
                  f"{extra_ms:.2f} ms more per reading (it publishes every slot: {a['forecasts']} forecasts "
                  f"for {a['readings']} readings, in memory {b['forecasts']})")


def main() -> int:
    args = parse_args()
    rows = INPUT_STEPS + int(args.seconds * args.rate) + args.saturation_rounds + 10
    data = payloads(rows)
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        bundle = reference_bundle(tmp / "bundle", export=args.runtime == "tflite", intervals=args.intervals)
        bands = ["--interval", "0.8,0.95"] if args.intervals else []
        gc.collect()
        gc.freeze()  # this process built the model with TensorFlow: keep its full GCs out of the timings
        broker = Broker(tmp / "mosquitto").start()
        try:
            if args.baseline_root:
                run_ours(broker.url, bundle, data, args, results, "baseline", bands, root=args.baseline_root)
            run_ours(broker.url, bundle, data, args, results, "ours",
                     bands + (["--anomaly-topic", "anomalies/{sensor}"] if args.intervals else []))
            if args.with_state:
                run_ours(broker.url, bundle, data, args, results, "ours-state",
                         ["--state-file", str(tmp / "state.json"), "--persistent-session",
                          "--state-interval", str(args.state_interval)])
            if args.with_redis:
                run_with_redis(broker.url, bundle, data, args, results, tmp)
            if not args.skip_echo:
                run_echo(broker.url, data, args, results)
            if not args.skip_naive:
                run_naive(broker.url, bundle, data, args, results)
        finally:
            broker.kill()
    report(results, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
