"""What the daemon tells operators: Prometheus metrics, health endpoints, rate-limited logs.

Each `Metrics` owns its registry (no global state), so tests and several services in one
process do not collide. `serve_http` exposes ``/metrics``, ``/healthz`` (the worker is
alive) and ``/readyz`` (model loaded and broker connected).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, Info, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from forecaster.serve.connect_errors import ConnectFailures
from pipelines.rejections import Cause


class Metrics:
    """The daemon's Prometheus metrics.

    Example:
        >>> m = Metrics()
        >>> m.reject(Cause.NON_JSON)
        >>> m.value("forecaster_messages_total", result="rejected", cause="non_json")
        1.0
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.messages = Counter("forecaster_messages", "MQTT messages by result and cause.", ["result", "cause"], registry=r)
        self.forecasts = Counter("forecaster_forecasts_published", "Forecasts published.", registry=r)
        self.superseded = Counter(
            "forecaster_windows_superseded", "Windows skipped because a newer one of the same sensor was in the batch.",
            registry=r,
        )
        self.ignored_fields = Counter(
            "forecaster_payload_fields_ignored", "Payload fields of accepted messages that no feature, --map or "
            "timestamp rule uses (--reject-unknown rejects such messages instead).", registry=r,
        )
        self.publish_errors = Counter("forecaster_publish_errors", "Forecasts paho refused to queue.", registry=r)
        self.inference = Histogram(
            "forecaster_inference_seconds", "Model time per batch of windows.", registry=r,
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
        )
        self.batch = Histogram(
            "forecaster_batch_windows", "Windows predicted per batch.", registry=r,
            buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
        )
        self.sensors = Gauge("forecaster_sensors_tracked", "Sensors with a window in memory.", registry=r)
        self.queue = Gauge("forecaster_queue_depth", "Messages waiting for the worker.", registry=r)
        self.connected = Gauge("forecaster_mqtt_connected", "1 while connected to the broker.", registry=r)
        self.connects = Counter("forecaster_mqtt_connects", "Successful connections (first one and reconnects).", registry=r)
        self.redelivered = Counter(
            "forecaster_readings_redelivered", "Readings the broker sent again whose effect was already in the "
            "windows (recognised by their slot; acknowledged, not errors).", registry=r,
        )
        self.deferred = Counter(
            "forecaster_messages_deferred", "Messages left unacknowledged at shutdown; the broker redelivers them "
            "to the next session (persistent sessions).", registry=r,
        )
        self.evicted = Counter(
            "forecaster_sensors_evicted", "Sensors whose window was dropped to stay within --max-sensors (least "
            "recently updated first).", registry=r,
        )
        self.state_saves = Histogram(
            "forecaster_state_save_seconds", "Snapshots of the windows to the state file, by duration.", registry=r,
            buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
        )
        self.state_errors = Counter(
            "forecaster_state_errors", "Failed journal writes and snapshots (logged; not ready while the journal "
            "fails).", registry=r,
        )
        self.internal_errors = Counter(
            "forecaster_internal_errors", "Unexpected exceptions caught in the worker or the message callback "
            "(logged with a traceback at most every 10 s; the daemon keeps serving).", registry=r,
        )
        self._model_metrics(r)
        self._ok = self.messages.labels("accepted", "ok")
        self._rejected = {cause: self.messages.labels("rejected", cause.value) for cause in Cause}  # all exist at 0

    def _model_metrics(self, r: CollectorRegistry) -> None:
        """The metrics of the model served: identity, reloads, sensors scaled by the global statistics."""
        self.model_info = Info("forecaster_model", "The model serving now (name, version, content hash); one sample "
                               "of value 1, relabelled by a reload.", registry=r)
        self.reloads = Counter("forecaster_model_reloads", "Bundles loaded and swapped in while serving (SIGHUP, --watch).",
                               registry=r)
        self.reload_failures = Counter(
            "forecaster_model_reload_failures", "Bundles that failed to load, verify or fit the served one on a reload "
            "(the model serving before keeps serving; logged).", registry=r,
        )
        self.unseen_scaling = Counter(
            "forecaster_sensors_unseen_scaling", "Sensors forecast with the global scaling statistics because the "
            "per-sensor model had none of their own (each counted once per model served; logged once).", registry=r,
        )

    def watch_publisher(self, client: Publisher) -> None:
        """Export what the MQTT client counts itself, read at each scrape: the publish buffer's
        depth, the forecasts it dropped when full, publishes paho refused, failed connects."""
        self.registry.register(PublisherCollector(client))

    def show_model(self, identity: dict | str) -> None:
        """Set ``forecaster_model_info`` to the model's ``name``, ``version`` and ``hash`` (a plain
        name: empty version and hash)."""
        known = {"name": identity} if isinstance(identity, str) else identity
        self.model_info.info({key: "" if known.get(key) is None else str(known[key]) for key in ("name", "version", "hash")})

    def reject(self, cause: Cause) -> None:
        """Count one rejected message."""
        self._rejected[cause].inc()

    def accept(self) -> None:
        """Count one accepted reading."""
        self._ok.inc()

    def value(self, name: str, **labels: str) -> float | None:
        """The current value of one sample (tests and logs)."""
        return self.registry.get_sample_value(name, labels)

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)


class Publisher(Protocol):
    """What `PublisherCollector` reads (`forecaster.serve.mqtt_client.MqttClient` has it)."""

    buffered: int
    buffer_drops: int
    last_publish_ok: float
    publish_failures: int
    refused_subscriptions: dict[str, str]
    connect_failures: ConnectFailures


class PublisherCollector:
    """A Prometheus collector over the MQTT client's own counts."""

    def __init__(self, client: Publisher) -> None:
        self.client = client

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily("forecaster_publish_buffer_depth",
                                "Forecasts kept while the broker is away, waiting for the reconnect.",
                                value=self.client.buffered)
        yield CounterMetricFamily("forecaster_publish_buffer_dropped",
                                  "Forecasts dropped because the publish buffer was full (the oldest first).",
                                  value=self.client.buffer_drops)
        yield CounterMetricFamily("forecaster_publish_refused",
                                  "Messages paho refused to send or the broker refused (MQTT 5 reason codes; logged "
                                  "every 10 s).", value=self.client.publish_failures)
        if self.client.last_publish_ok:
            yield GaugeMetricFamily("forecaster_last_publish_timestamp_seconds",
                                    "When the broker last acknowledged a publish (Unix time; QoS 1/2).",
                                    value=self.client.last_publish_ok)
        yield GaugeMetricFamily("forecaster_subscriptions_refused",
                                "Subscriptions the broker refused on the last connection (not ready while > 0).",
                                value=len(self.client.refused_subscriptions))
        failures = CounterMetricFamily("forecaster_connect_failures",
                                       "Failed connects to the broker by reason (TLS ones tls_*; the first of an "
                                       "outage and each change of reason is an ERROR line).", labels=["reason"])
        for reason, count in list(self.client.connect_failures.counts.items()):
            failures.add_metric([reason], count)
        yield failures


class RateLimitedLog:
    """At most one log line per key per ``interval`` seconds, with a count of the rest.

    Example:
        >>> lines = []
        >>> limited = RateLimitedLog(lines.append, interval=60, clock=lambda: 0.0)
        >>> for i in range(3):
        ...     limited("non_json", f"message {i}")
        >>> lines
        ['non_json: message 0']
    """

    def __init__(self, emit: Callable[[str], None], *, interval: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._emit = emit
        self._interval = interval
        self._clock = clock
        self._last: dict[str, float] = {}
        self._skipped: dict[str, int] = {}
        self._lock = threading.Lock()

    def __call__(self, key: str, message: str) -> None:
        now = self._clock()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self._interval:
                self._skipped[key] = self._skipped.get(key, 0) + 1
                return
            self._last[key] = now
            skipped = self._skipped.pop(key, 0)
        suffix = f" ({skipped} more like this since the last line)" if skipped else ""
        self._emit(f"{key}: {message}{suffix}")


class ExceptionLog:
    """Log the exception being handled with its traceback, at most once per ``interval`` seconds
    (with a count of the rest): a bug hit by every message must not flood the log.

    Example:
        >>> import logging
        >>> limited = ExceptionLog(logging.getLogger("demo"), interval=60)
        >>> try:
        ...     1 / 0
        ... except ZeroDivisionError:
        ...     limited("dividing")
        >>> limited.skipped
        0
    """

    def __init__(self, logger, *, interval: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._logger = logger
        self._interval = interval
        self._clock = clock
        self._last = float("-inf")
        self.skipped = 0
        self._lock = threading.Lock()

    def __call__(self, message: str) -> None:
        """Call inside an ``except`` block."""
        now = self._clock()
        with self._lock:
            if now - self._last < self._interval:
                self.skipped += 1
                return
            self._last, skipped, self.skipped = now, self.skipped, 0
        suffix = f" ({skipped} more since the last line)" if skipped else ""
        self._logger.exception("%s%s", message, suffix)


def serve_http(
    metrics: Metrics, host: str, port: int, *, healthy: Callable[[], bool], ready: Callable[[], bool]
) -> ThreadingHTTPServer:
    """Start ``/metrics``, ``/healthz`` and ``/readyz`` in a daemon thread; returns the server.

    ``port=0`` picks a free port (``server.server_address[1]``). Call ``shutdown()`` to stop.
    """

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, metrics.render(), CONTENT_TYPE_LATEST)
            elif path in ("/healthz", "/readyz"):
                ok = (healthy if path == "/healthz" else ready)()
                self._send(200 if ok else 503, b"ok\n" if ok else b"not ok\n", "text/plain")
            else:
                self._send(404, b"not found: try /metrics, /healthz or /readyz\n", "text/plain")

        def _send(self, code: int, body: bytes, content_type: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args) -> None:  # scrapes are not news
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="metrics-http", daemon=True).start()
    return server

