"""Helpers for the daemon tests: a daemon in a thread, a publisher, payloads, health and metrics probes."""

from __future__ import annotations

import json
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pandas as pd
from helpers import ETT_COLUMNS
from mqtt_broker import Collector, free_port
from prometheus_client.parser import text_string_to_metric_families

from forecaster.serve.config import ServeConfig
from forecaster.serve.daemon import Daemon
from forecaster.serve.mqtt_client import MqttClient
from forecaster.serve.mqtt_settings import BrokerAddress, MqttSettings
from pipelines.payloads import encode_reading


def http_get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""
    except OSError:
        return 0, ""


def wait_ready(port: int, timeout: float = 180.0, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"serve exited early: {process.stderr.read()}")
        if http_get(f"http://127.0.0.1:{port}/readyz")[0] == 200:
            return
        time.sleep(0.2)
    raise AssertionError("serve never became ready")


def scrape(port: int) -> dict[tuple[str, tuple], float]:
    status, text = http_get(f"http://127.0.0.1:{port}/metrics")
    assert status == 200
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text) for s in family.samples
    }


def forecasts(collector: Collector, sensor: str) -> list[dict]:
    return [json.loads(p) for t, p, _ in collector.messages if t == f"forecasts/{sensor}"]


def retained_status(url: str, topic: str) -> bytes | None:
    c = Collector(url, topic, client_id="status-check")
    c.wait_for(lambda m: m, timeout=3)
    c.close()
    return c.messages[-1][1] if c.messages else None


class DaemonThread:
    """A `Daemon` serving in a thread (`Daemon.run_until`), stopped like a signal stops it.

    ``tls``: MqttSettings' TLS fields (``ca_file``, ``cert_file``, ``key_file``); ``ready=False``:
    do not wait for ``/readyz`` (a daemon that cannot connect).
    """

    def __init__(self, model, url: str, **overrides) -> None:
        self.port = free_port()
        wait = overrides.pop("ready", True)
        settings = MqttSettings(
            broker=BrokerAddress.parse(url), client_id=overrides.pop("client_id", "test-daemon"),
            reconnect_max=2, persistent=overrides.pop("persistent", False), **overrides.pop("tls", {}),
        )
        self.config = ServeConfig(
            bundle=overrides.pop("bundle", "(in memory)"), mqtt=settings, status_topic=f"forecaster/{settings.client_id}/status",
            metrics_port=self.port, **overrides,
        )
        self.daemon = Daemon(self.config, model)
        self.stop = threading.Event()
        self.result: list[int] = []
        self.thread = threading.Thread(target=self._serve, name="test-daemon")
        self.thread.start()
        if wait:
            wait_ready(self.port, timeout=30)

    def _serve(self) -> None:
        self.result.append(self.daemon.run_until(self.stop))

    def close(self) -> int:
        self.stop.set()
        self.thread.join(15)
        assert not self.thread.is_alive()
        return self.result[0]


def publisher(url: str, client_id: str = "test-sensor") -> MqttClient:
    client = MqttClient(MqttSettings(broker=BrokerAddress.parse(url), client_id=client_id, reconnect_max=2))
    client.start()
    assert client.wait_connected(10)
    return client


def good_payload(frame: pd.DataFrame, i: int, **extra) -> bytes:
    row = frame.iloc[i]
    body = json.loads(encode_reading(row["date"], ETT_COLUMNS, row[ETT_COLUMNS].tolist()))
    body.update(extra)
    return json.dumps(body).encode()
