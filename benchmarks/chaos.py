"""Chaos: `forecaster serve` killed and restarted under a QoS 1 stream; nothing acknowledged is lost.

    .venv/bin/python benchmarks/chaos.py [--sensors 20] [--rate 4] [--seconds 90] [--runs 3]

Starts its own Mosquitto (persistence on, saved on every change), a forecast bundle (the
reference 2x64 LSTM of `common.reference_bundle`, or ``--model DIR``), and `forecaster serve`
as a real process with a persistent session and a state file. ``--sensors`` simulated sensors
each publish ``--rate`` readings per second (QoS 1, a persistent session of their own, one
cadence slot per reading). During the stream the daemon is killed (SIGKILL) twice and stopped
(SIGTERM) once, each time restarted at once, and the broker is killed (SIGKILL) once and
restarted. At the end it checks:

- lost: readings that lie in the window of no published forecast (each reading must be in
  the input of some forecast: its own slot's, or a later one's);
- mismatched: forecasts that differ (1e-4) from the model's forecast of the true series up to
  their ``issued_at`` (one batch of `Forecaster.predict_windows` over the true windows);
- duplicates: forecasts of the same sensor and slot published more than once (allowed:
  at-least-once; a reading redelivered after a crash before its journal write is forecast again).

and prints sent / acknowledged / lost / duplicates / mismatched per run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT / "tests"), str(ROOT)]

from common import wait_ready  # noqa: E402
from mqtt_broker import Broker, free_port  # noqa: E402

from forecaster.serve.mqtt_client import MqttClient  # noqa: E402
from forecaster.serve.mqtt_settings import BrokerAddress, MqttSettings  # noqa: E402
from pipelines.payloads import encode_reading  # noqa: E402

START = pd.Timestamp("2024-01-01", tz="UTC")
EVENTS = tuple(os.environ.get("CHAOS_EVENTS", "kill daemon,kill daemon,stop daemon,kill broker").split(","))


@dataclass
class Stream:
    """The sensors' true series and what the forecasts received say about it."""

    sensors: list[str]
    features: list[str]
    values: np.ndarray  # (sensor, slot, feature)
    step: pd.Timedelta
    forecasts: list[tuple[str, pd.Timestamp, list[dict]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def payload(self, s: int, k: int) -> bytes:
        return encode_reading(START + k * self.step, self.features, self.values[s, k].tolist())

    def on_forecast(self, _topic: str, payload: bytes) -> None:
        body = json.loads(payload)
        with self.lock:
            self.forecasts.append((body["sensor"], pd.Timestamp(body["issued_at"]), body["forecast"]))


def make_stream(n_sensors: int, n_slots: int, features: list[str], step: pd.Timedelta, seed: int = 0) -> Stream:
    """Daily cycles with noise, one level per sensor and feature."""
    rng = np.random.default_rng(seed)
    hours = np.arange(n_slots) * step / pd.Timedelta("1h")
    cycle = np.sin(2 * np.pi * hours / 24)[None, :, None]
    level = rng.normal(10, 3, size=(n_sensors, 1, len(features)))
    values = level + 2 * cycle + rng.normal(0, 0.3, size=(n_sensors, n_slots, len(features)))
    return Stream([f"c{i:03d}" for i in range(n_sensors)], features, np.round(values, 4), step)


class Daemon:
    """`forecaster serve` as a process: started, killed, stopped, restarted."""

    def __init__(self, bundle: Path, url: str, workdir: Path) -> None:
        self.port = free_port()
        self.command = [
            sys.executable, "-m", "forecaster", *os.environ.get("CHAOS_DAEMON_VERBOSITY", "").split(), "serve", "--model", str(bundle), "--broker", url,
            "--client-id", "chaos-daemon", "--persistent-session", "--state-file", str(workdir / "state.json"),
            "--state-interval", "2", "--metrics-port", str(self.port), "--qos", "1",
        ]
        self.log = open(workdir / "daemon.log", "ab")  # noqa: SIM115 (one log over every restart)
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 180.0) -> float:
        """Start and wait for ``/readyz``; the seconds it took."""
        started = time.monotonic()
        self.process = subprocess.Popen(self.command, cwd=ROOT, stdout=self.log, stderr=self.log)
        wait_ready(self.process, self.port, timeout, f"the daemon (log: {self.log.name})")
        return time.monotonic() - started

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(60)

    def counts(self) -> dict:
        """Stale readings refused and redeliveries recognised by the daemon's last run (``/metrics``)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as answer:
            text = answer.read().decode()
        def value(pattern: str) -> int:
            found = re.search(pattern + r" ([0-9.e+]+)", text)
            return int(float(found.group(1))) if found else 0
        return {"out_of_order": value(r'forecaster_messages_total\{cause="out_of_order",result="rejected"\}'),
                "redelivered": value(r"forecaster_readings_redelivered_total")}

    def close(self) -> None:
        """Kill the process if it still runs; close the log."""
        if self.process is not None and self.process.poll() is None:
            self.kill()
        self.log.close()


def client(url: str, client_id: str, **kwargs) -> MqttClient:
    settings = MqttSettings(broker=BrokerAddress.parse(url), client_id=client_id, persistent=True,
                            session_expiry=3600, reconnect_max=2)
    made = MqttClient(settings, buffer_size=1_000_000, **kwargs)
    made.start()
    if not made.wait_connected(15):
        raise RuntimeError(f"{client_id} could not connect")
    return made


def publish_stream(sensors: MqttClient, stream: Stream, n_slots: int, rate: float, events: list, log) -> int:
    """Publish slot after slot (every sensor once per slot, ``rate`` slots per second), running
    each ``(slot, action)`` event when its slot comes; the readings sent."""
    sent = 0
    pending = sorted(events, key=lambda e: e[0])
    started = time.monotonic()
    for k in range(n_slots):
        while pending and pending[0][0] == k:
            _, name, action = pending.pop(0)
            log(f"  slot {k}: {name} ({action():.1f} s)")
        for s, sensor in enumerate(stream.sensors):
            sensors.publish(f"sensors/{sensor}/readings", stream.payload(s, k), qos=1)
            sent += 1
        time.sleep(max(0.0, started + (k + 1) / rate - time.monotonic()))
    return sent


def check(stream: Stream, model, n_slots: int) -> dict:
    """Lost readings, duplicate and mismatched forecasts (see the module docstring)."""
    length = model.spec.input_steps
    columns = [stream.features.index(c) for c in model.spec.features]
    index = {s: i for i, s in enumerate(stream.sensors)}
    seen: dict[tuple[str, int], list[dict]] = {}
    duplicates, differing = 0, []
    for sensor, issued, steps in stream.forecasts:
        key = (sensor, int((issued - START) / stream.step))
        if key in seen:
            duplicates += 1
            if seen[key] != steps:
                differing.append(key)
        seen[key] = steps
    keys = sorted(seen)
    windows = np.stack([stream.values[index[s], k - length + 1 : k + 1][:, columns] for s, k in keys])
    expected = model.predict_windows(windows)
    got = np.array([[[step[t] for t in model.spec.targets] for step in seen[key]] for key in keys])
    bad = (np.abs(got - expected) > 1e-4).any(axis=(1, 2))
    mismatched = int(bad.sum())
    lost, where = 0, []
    for sensor in stream.sensors:
        covered = np.zeros(n_slots, dtype=bool)
        for k in (k for s, k in keys if s == sensor):
            covered[max(0, k - length + 1) : k + 1] = True
        lost += int((~covered).sum())
        missing = np.flatnonzero(~covered)
        if len(missing):
            where.append(f"{sensor}: slots {missing.min()}..{missing.max()} ({len(missing)})")
    return {"forecasts": len(stream.forecasts), "duplicates": duplicates, "mismatched": mismatched, "lost": lost,
            "max_error": float(np.abs(got - expected).max()), "lost_slots": where,
            "mismatched_at": [keys[i] for i in np.flatnonzero(bad)][:20], "differing_duplicates": differing[:20]}


def run(bundle: Path, workdir: Path, *, n_sensors: int, rate: float, seconds: float, events: Sequence[str] = EVENTS,
        log=print) -> dict:
    """One chaos run; the counts of `check` plus sent and acknowledged."""
    from forecaster.model import Forecaster

    model = Forecaster.load(bundle)
    workdir.mkdir(parents=True, exist_ok=True)
    broker = Broker(workdir / "mosquitto", persistence=True, extra=["autosave_on_changes true"]).start()
    n_slots = model.spec.input_steps + int(seconds * rate)
    stream = make_stream(n_sensors, n_slots, list(model.spec.features), pd.Timedelta(model.freq_))
    collector = client(broker.url, "chaos-collector", subscriptions=[("forecasts/#", 1)],
                       on_message=stream.on_forecast)
    daemon = Daemon(bundle, broker.url, workdir)
    daemon.start()
    sensors = client(broker.url, "chaos-sensors")

    def restart_broker() -> float:
        started = time.monotonic()
        broker.restart()
        return time.monotonic() - started

    def stop_daemon() -> float:
        code = daemon.stop()
        if code != 0:
            raise RuntimeError(f"SIGTERM: the daemon exited with {code}")
        return daemon.start()

    actions = {"kill daemon": lambda: (daemon.kill(), daemon.start())[1], "stop daemon": stop_daemon,
               "kill broker": restart_broker}
    first = model.spec.input_steps
    events = [(first + int((i + 1) * (n_slots - first) / (len(events) + 1)), name, actions[name])
              for i, name in enumerate(events)]
    try:
        sent = publish_stream(sensors, stream, n_slots, rate, events, log)
        acknowledged = sent if sensors.flush(120) else None
        last = START + (n_slots - 1) * stream.step
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with stream.lock:
                done = {s for s, issued, _ in stream.forecasts if issued == last}
            if len(done) == n_sensors:
                break
            time.sleep(0.2)
        time.sleep(1.0)
        late = daemon.counts()
        daemon.stop()
    finally:
        for stop in (daemon.close, sensors.stop, collector.stop, broker.stop):
            stop()
    return {"sent": sent, "acknowledged": acknowledged, **check(stream, model, n_slots), **late}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sensors", type=int, default=20)
    parser.add_argument("--rate", type=float, default=4.0, help="slots per second (each sensor one reading per slot)")
    parser.add_argument("--seconds", type=float, default=90.0, help="length of the stream after the windows fill")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--model", type=Path, default=None, help="a forecast bundle [default: the reference 2x64 LSTM]")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    import tempfile

    from common import reference_bundle, table, write_results

    with tempfile.TemporaryDirectory() as scratch:
        workdir = args.workdir or Path(scratch)
        bundle = args.model or reference_bundle(workdir / "bundle")
        rows = []
        for i in range(args.runs):
            print(f"run {i + 1}: {args.sensors} sensors, {args.rate} readings/s each, {args.seconds:.0f} s; "
                  f"events: {', '.join(EVENTS)}", flush=True)
            result = run(bundle, workdir / f"run{i + 1}", n_sensors=args.sensors, rate=args.rate, seconds=args.seconds,
                         log=lambda line: print(line, flush=True))
            rows.append({"run": i + 1, **result})
        headers = ["run", "sent", "acknowledged", "forecasts", "lost", "duplicates", "mismatched", "max_error",
                   "out_of_order", "redelivered"]
        for r in rows:
            for line in r["lost_slots"]:
                print(f"run {r['run']} lost {line}")
            if r["mismatched_at"] or r["differing_duplicates"]:
                print(f"run {r['run']} mismatched (sensor, slot): {r['mismatched_at']}; duplicates with other values: "
                      f"{r['differing_duplicates']}")
        print(table(headers, [[r[h] if h != "max_error" else f"{r[h]:.1e}" for h in headers] for r in rows]))
        write_results("chaos", {"args": {k: str(v) for k, v in vars(args).items()}, "runs": rows})
        return 0 if all(r["lost"] == 0 and r["mismatched"] == 0 for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
