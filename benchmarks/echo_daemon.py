"""The floor that `serve_latency.py` measures beside the daemons: no model at all.

Subscribes like `forecaster serve`, parses each reading with the same parser and answers at
once with a forecast-shaped message (sensor and ``issued_at`` only), from paho's callback.
What it measures is the broker hop in and out plus two Python MQTT clients: the latency no
forecasting daemon on this machine can go below.

    python benchmarks/echo_daemon.py BROKER_URL HUFL,HULL,MUFL,MULL,LUFL,LULL,OT
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import serve_readings  # noqa: E402


def main(url: str, features: list[str]) -> int:
    from pipelines.payloads import ParseRules, Rejection, format_timestamp, parse_message

    rules = ParseRules(subscription="sensors/+/readings", features=features)

    def on_message(client, topic: str, payload: bytes) -> None:
        item = parse_message(topic, payload, rules)
        if not isinstance(item, Rejection):
            body = b'{"sensor":"%s","issued_at":"%s"}' % (item.sensor.encode(), format_timestamp(item.ts).encode())
            client.publish(f"forecasts/{item.sensor}", body, 1)

    return serve_readings(url, "echo-daemon", on_message)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1], sys.argv[2].split(",")))
