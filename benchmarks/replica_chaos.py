"""Replica chaos: three `forecaster serve` replicas behind `$share/`, windows in Redis, random
replicas killed (SIGKILL) and restarted under a paced QoS 1 stream.

    .venv/bin/python benchmarks/replica_chaos.py [--slots 600] [--sensors 4] [--rate 10] [--kills 4]

Starts its own Mosquitto and redis-server (append-only file, appendfsync always) on free ports,
trains a tiny LSTM on the first 1,200 hours of ETTh1 (input 24, horizon 6, target OT; any model
does, the check is against the model itself), and three replicas (`--persistent-session`, fixed
client ids, `--reorder-slots 2000` so that the share a dead replica's session keeps lands in its
windows). ``--sensors`` sensors replay consecutive blocks of ETTh1, ``--rate`` slots per second;
``--kills`` times a random replica is killed and restarted at once (the stream goes on). Then:

- missing: slots (from each sensor's first whole window on) with no forecast;
- duplicates: forecasts of a slot beyond the first;
- wrong: forecasts further than 1e-5 from the model on the true window.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT / "tests"), str(ROOT)]

from common import wait_ready  # noqa: E402
from mqtt_broker import free_port  # noqa: E402

from pipelines.payloads import format_timestamp  # noqa: E402

FEATURES = ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]


class Replica:
    """`forecaster serve` as a process, one of the share group ``forecasters``."""

    def __init__(self, bundle: Path, broker_url: str, redis_url: str, name: str, workdir: Path) -> None:
        self.name, self.port = name, free_port()
        self.command = [sys.executable, "-m", "forecaster", "serve", "--model", str(bundle), "--broker", broker_url,
                        "--client-id", name, "--persistent-session", "--state-store", redis_url, "--share-group",
                        "forecasters", "--reorder-slots", "2000", "--metrics-port", str(self.port)]
        self.log = open(workdir / f"{name}.log", "ab")  # noqa: SIM115 (one log over restarts)
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 240.0) -> Replica:
        """Start and wait for ``/readyz``."""
        self.process = subprocess.Popen(self.command, cwd=ROOT, stdout=self.log, stderr=self.log)
        wait_ready(self.process, self.port, timeout, f"{self.name} (log: {self.log.name})")
        return self

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(30)

    def close(self) -> None:
        self.kill()
        self.log.close()


def by_slot(messages) -> dict[tuple[str, str], list[list[float]]]:
    """The forecasts received, by (sensor, issued_at): each one's OT steps."""
    out: dict[tuple[str, str], list[list[float]]] = {}
    for _topic, payload, *_ in messages:
        body = json.loads(payload)
        out.setdefault((body["sensor"], body["issued_at"]), []).append([s["OT"] for s in body["forecast"]])
    return out


def check(got: dict, rows: dict, model) -> dict:
    """Missing, duplicate and wrong forecasts (see the module docstring)."""
    length = model.spec.input_steps
    missing = duplicates = wrong = 0
    worst = 0.0
    for sensor, frame in rows.items():
        stamps = [format_timestamp(ts) for ts in frame["date"]]
        values = frame[FEATURES].to_numpy()
        want = model.predict_windows(np.stack([values[k - length + 1 : k + 1] for k in range(length - 1, len(frame))]))
        for i, k in enumerate(range(length - 1, len(frame))):
            found = got.get((sensor, stamps[k]))
            if not found:
                missing += 1
                continue
            duplicates += len(found) - 1
            error = float(np.abs(np.array(found) - want[i, :, 0]).max())
            worst, wrong = max(worst, error), wrong + (error > 1e-5)
    return {"expected": sum(len(f) - length + 1 for f in rows.values()), "missing": missing,
            "duplicates": duplicates, "wrong": wrong, "max_error": worst}


def run(args: argparse.Namespace, workdir: Path) -> dict:
    from mqtt_broker import Broker, Collector
    from redis_server import RedisServer
    from serve_support import publisher

    import forecaster
    from pipelines import WindowSpec, read_csv
    from pipelines.payloads import encode_reading

    ett = read_csv(ROOT / "data" / "ETTh1.csv")
    spec = WindowSpec(input_steps=24, horizon=6, features=FEATURES, targets=["OT"])
    model = forecaster.train(ett.iloc[:1200], spec, units=8, epochs=1, seed=1)
    bundle = model.save(workdir / "bundle")
    broker, redis = Broker(workdir / "mosquitto").start(), RedisServer(workdir / "redis").start()
    collector = Collector(broker.url, "forecasts/#", client_id="chaos-collector")
    replicas = [Replica(bundle, broker.url, redis.url, f"replica-{i}", workdir).start() for i in range(3)]
    sensors = publisher(broker.url, "chaos-sensors")
    rows = {f"s{j}": ett.iloc[j * args.slots : (j + 1) * args.slots] for j in range(args.sensors)}
    pick = random.Random(args.seed)
    kills = dict(zip(sorted(pick.sample(range(60, args.slots - 40), args.kills)), pick.choices(replicas, k=args.kills)))
    restarts = []
    try:
        started = time.monotonic()
        for k in range(args.slots):
            if k in kills:
                print(f"slot {k}: kill -9 {kills[k].name}, restarted at once", flush=True)
                restarts.append(threading.Thread(target=lambda r=kills[k]: (r.kill(), r.start())))
                restarts[-1].start()
            for sensor, frame in rows.items():
                payload = encode_reading(frame["date"].iloc[k], FEATURES, frame[FEATURES].iloc[k].tolist())
                sensors.publish(f"sensors/{sensor}/readings", payload, qos=1)
            time.sleep(max(0.0, started + (k + 1) / args.rate - time.monotonic()))
        for thread in restarts:
            thread.join(300)
        last = {(s, format_timestamp(f["date"].iloc[-1])) for s, f in rows.items()}
        collector.wait_for(lambda m: last <= set(by_slot(m)), timeout=300)
        time.sleep(2.0)  # a forecast published twice would have arrived by now
        return {"forecasts": len(collector.messages), **check(by_slot(collector.messages), rows, model)}
    finally:
        for item in (*replicas, sensors, collector):
            (item.close if hasattr(item, "close") else item.stop)()
        redis.kill()
        broker.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slots", type=int, default=600)
    parser.add_argument("--sensors", type=int, default=4)
    parser.add_argument("--rate", type=float, default=10.0, help="slots per second (each sensor one reading per slot)")
    parser.add_argument("--kills", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    import tempfile

    from common import table, write_results

    with tempfile.TemporaryDirectory() as scratch:
        result = run(args, Path(scratch))
    headers = ["slots", "sensors", "rate", "kills", "forecasts", "expected", "missing", "duplicates", "wrong", "max_error"]
    row = {**vars(args), **result}
    print(table(headers, [[f"{row[h]:.1e}" if h == "max_error" else row[h] for h in headers]]))
    write_results("replica_chaos", {"args": vars(args), "result": result})
    return 0 if result["missing"] == result["wrong"] == result["duplicates"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
