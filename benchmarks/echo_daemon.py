"""The floor that `serve_latency.py` measures beside the daemons: no model at all.

Subscribes like `forecaster serve`, parses each reading with the same parser and answers at
once with a forecast-shaped message (sensor and ``issued_at`` only), from paho's callback.
What it measures is the broker hop in and out plus two Python MQTT clients: the latency no
forecasting daemon on this machine can go below.

    python benchmarks/echo_daemon.py BROKER_URL HUFL,HULL,MUFL,MULL,LUFL,LULL,OT
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(url: str, features: list[str]) -> int:
    from pipelines.mqtt_source import BrokerAddress, MqttClient, MqttSettings
    from pipelines.payloads import ParseRules, Rejection, format_timestamp, parse_message

    rules = ParseRules(subscription="sensors/+/readings", features=features)
    box: list[MqttClient] = []

    def on_message(topic: str, payload: bytes) -> None:
        item = parse_message(topic, payload, rules)
        if not isinstance(item, Rejection):
            body = b'{"sensor":"%s","issued_at":"%s"}' % (item.sensor.encode(), format_timestamp(item.ts).encode())
            box[0].publish(f"forecasts/{item.sensor}", body, 1)

    client = MqttClient(MqttSettings(broker=BrokerAddress.parse(url), client_id="echo-daemon"),
                        subscriptions=[("sensors/+/readings", 1)], on_message=on_message)
    box.append(client)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    client.start()
    if not client.wait_connected(60):
        return 1
    print("ready", flush=True)  # connected, subscription sent (serve_latency.py waits for this line)
    stop.wait()
    client.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1], sys.argv[2].split(",")))
