"""`forecaster serve` at run time: the `Daemon` wires model, MQTT client, worker and metrics.

The configuration is one frozen `ServeConfig`, built once by the command from flags, TOML
and environment. `Daemon.start` warms the model up, restores the windows, starts the
worker and the metrics endpoint and connects; `Daemon.stop` stops taking messages, lets
the worker finish the queue, saves the state file, publishes ``offline`` and disconnects.
Process-wide set-up (signal handlers that only set a flag, TensorFlow threads, the garbage
collector, logging) belongs to the program that embeds the daemon: `forecaster.cli.mqtt`.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from typing import TYPE_CHECKING

from forecaster.serve.mqtt_client import MqttClient, MqttSettings
from forecaster.serve.service import ForecastService, check_template
from forecaster.serve.state import restore_state, save_state
from forecaster.serve.telemetry import Metrics, serve_http
from pipelines.errors import ForecasterError
from pipelines.payloads import ParseRules

if TYPE_CHECKING:
    from forecaster.model import Forecaster

log = logging.getLogger(__name__)


def _check_qos(name: str, value: object) -> None:
    if value not in (0, 1, 2) or isinstance(value, bool):
        raise ForecasterError(f"`{name}` must be 0, 1 or 2. Received: {name}={value!r}")


@dataclass(frozen=True)
class ServeConfig:
    """Everything `forecaster serve` needs, validated.

    Args:
        bundle: the forecast bundle directory.
        mqtt: connection settings.
        subscribe: the readings' topic filter (its ``+`` level is the sensor id).
        publish: the forecast topic template, e.g. ``forecasts/{sensor}``.
        status_topic: retained ``online``/``offline``.
        qos_in, qos_out, retain: subscription QoS; forecasts' QoS and retain flag.
        metrics_host, metrics_port: where ``/metrics``, ``/healthz``, ``/readyz`` listen (None: off).
        state_file: windows saved at shutdown and restored at start (None: off).
        max_sensors, queue_size, max_batch, max_payload, max_future_s, ignore_unknown:
            limits, see `ForecastService` and `ParseRules`.
        drain_timeout: seconds the worker gets to finish the queue at shutdown.
        runtime: ``keras`` (TensorFlow, XLA fast path) or ``tflite`` (the bundle's LiteRT
            export; no TensorFlow needed).
        threads: inference threads (0: the runtime's default, all cores).

    Example:
        >>> from forecaster.serve.mqtt_client import BrokerAddress
        >>> ServeConfig(bundle="b", mqtt=MqttSettings(broker=BrokerAddress.parse("mqtt://h"), client_id="c"),
        ...             status_topic="s", qos_out=3)
        Traceback (most recent call last):
        ...
        pipelines.errors.ForecasterError: `qos_out` must be 0, 1 or 2. Received: qos_out=3
    """

    bundle: str
    mqtt: MqttSettings
    status_topic: str
    subscribe: str = "sensors/+/readings"
    publish: str = "forecasts/{sensor}"
    qos_in: int = 1
    qos_out: int = 1
    retain: bool = False
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = None
    state_file: str | None = None
    max_sensors: int = 10_000
    queue_size: int = 100_000
    max_batch: int = 1024
    max_payload: int = 65_536
    max_future_s: float = 86_400.0
    ignore_unknown: bool = False
    drain_timeout: float = 5.0
    runtime: str = "keras"
    threads: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.threads, bool) or not isinstance(self.threads, int) or self.threads < 0:
            raise ForecasterError(f"`threads` must be a non-negative integer. Received: threads={self.threads!r}")
        if self.runtime not in ("keras", "tflite"):
            raise ForecasterError(f"`runtime` must be 'keras' or 'tflite'. Received: runtime={self.runtime!r}")
        _check_qos("qos_in", self.qos_in)
        _check_qos("qos_out", self.qos_out)
        check_template(self.publish)
        ParseRules(subscription=self.subscribe, features=("x",))  # validates the filter
        if not self.status_topic or any(c in self.status_topic for c in "+#\0"):
            raise ForecasterError(f"`status_topic` must be a plain topic. Received: status_topic={self.status_topic!r}")
        if self.metrics_port is not None and not 0 <= self.metrics_port <= 65535:
            raise ForecasterError(f"`metrics_port` must be in [0, 65535]. Received: metrics_port={self.metrics_port}")
        for name in ("max_sensors", "queue_size", "max_batch", "max_payload"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ForecasterError(f"`{name}` must be a positive integer. Received: {name}={value!r}")


class Daemon:
    """The serving daemon: readings in over MQTT, forecasts out, until stopped.

    Args:
        config: the validated settings.
        model: a loaded `forecaster.model.Forecaster` (``config.runtime``'s predict path).

    Example (what `forecaster serve` does after its process-wide set-up)::

        daemon = Daemon(config, Forecaster.load(config.bundle))
        daemon.warm_up()                 # compile before taking traffic
        daemon.run_until(stop_event)     # start, wait for the event, stop; returns 0
    """

    def __init__(self, config: ServeConfig, model: Forecaster) -> None:
        self.config = config
        self.model = model
        self.metrics = Metrics()
        self.client = MqttClient(
            config.mqtt, subscriptions=[(config.subscribe, config.qos_in)], on_message=self.on_message,
            status_topic=config.status_topic, on_state=self.on_connection,
        )
        self.service = ForecastService(
            model, rules=parse_rules(config, model), publisher=self.client, template=config.publish,
            qos=config.qos_out, retain=config.retain, metrics=self.metrics, max_sensors=config.max_sensors,
            queue_size=config.queue_size, more_pending=self.client.incoming_pending,
        )
        self._worker_stop = threading.Event()
        self._worker = threading.Thread(
            target=self.service.run, args=(self._worker_stop,), kwargs={"max_batch": config.max_batch},
            name="forecast-worker", daemon=True,
        )
        self._http: ThreadingHTTPServer | None = None
        self._warm = False

    # ------------------------------------------------------------------ lifecycle
    def warm_up(self) -> None:
        """Compile every batch size before taking traffic, so that no forecast waits for XLA
        (once; `start` calls it when the caller has not)."""
        if self._warm:
            return
        started = time.perf_counter()
        self.model.warmup()
        log.info("warmed up the %s predict path in %.1f s", self.config.runtime, time.perf_counter() - started)
        self._warm = True

    def start(self) -> None:
        """Warm up, restore the windows, start the worker and ``/metrics``, connect.

        Raises:
            ForecasterError: an unreadable state file, or the metrics port is taken.
        """
        self.warm_up()
        if self.config.state_file:
            restored = restore_state(self.config.state_file, self.service.windows, self.model)
            if restored:
                log.info("restored the windows of %d sensor(s) from %s", restored, self.config.state_file)
        self._worker.start()
        if self.config.metrics_port is not None:
            self._http = self._serve_metrics()
        self.client.start()
        self._log_serving()

    def run_until(self, stop_event: threading.Event) -> int:
        """Start, serve until ``stop_event`` is set (a signal handler may set it), stop.

        Returns:
            0 after a clean shutdown.
        """
        self.start()
        try:
            while not stop_event.wait(5.0):  # setting the event ends the wait at once
                pass
        finally:
            self.stop()
        return 0

    def stop(self) -> None:
        """Stop taking messages, let the worker finish the queue (``drain_timeout``), save the
        windows, publish ``offline`` and disconnect."""
        service = self.service
        log.info("shutting down: finishing %d queued reading(s)", service.inbox.qsize())
        service.accepting = False
        self._stop_worker()
        self._worker.join(self.config.drain_timeout)
        if self._worker.is_alive():
            log.error("the worker did not finish within %.1f s; %d reading(s) dropped",
                      self.config.drain_timeout, service.inbox.qsize())
        if self.config.state_file:
            with service.processing_lock:  # a reading processed in the network thread is complete
                save_state(self.config.state_file, service.windows, self.model)
            log.info("saved the windows of %d sensor(s) to %s", len(service.windows), self.config.state_file)
        self.client.flush(2.0)
        self.client.stop()
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
        log.info("stopped: %d forecasts published", int(self.metrics.value("forecaster_forecasts_published_total") or 0))

    # --------------------------------------------------------- health and callbacks
    def healthy(self) -> bool:
        """``/healthz``: the worker is alive."""
        return self._worker.is_alive()

    def ready(self) -> bool:
        """``/readyz``: the worker is alive and the broker connected."""
        return self._worker.is_alive() and self.client.connected.is_set()

    def on_message(self, topic: str, payload: bytes) -> None:
        """The MQTT client's message callback (paho's network thread): to the service."""
        self.service.receive(topic, payload)

    def on_connection(self, up: bool) -> None:
        """The MQTT client's connection callback: the connection gauge and counter."""
        self.metrics.connected.set(1 if up else 0)
        if up:
            self.metrics.connects.inc()

    # ------------------------------------------------------------------- helpers
    def _stop_worker(self) -> None:
        self._worker_stop.set()
        self.service.wake()

    def _serve_metrics(self) -> ThreadingHTTPServer:
        config = self.config
        try:
            return serve_http(self.metrics, config.metrics_host, config.metrics_port, healthy=self.healthy, ready=self.ready)
        except OSError as exc:
            self._stop_worker()
            raise ForecasterError(f"cannot listen on {config.metrics_host}:{config.metrics_port}: {exc}") from None

    def _log_serving(self) -> None:
        config, model, http = self.config, self.model, self._http
        log.info(
            "serving %s (%s, input %d x %s): %s %s -> %s%s", model.name, model.freq_, model.spec.input_steps,
            list(model.spec.features), config.mqtt.broker, config.subscribe, config.publish,
            f", metrics on http://{config.metrics_host}:{http.server_address[1]}/metrics" if http else "",
        )


def parse_rules(config: ServeConfig, model: Forecaster) -> ParseRules:
    """What a valid reading looks like for ``model`` under ``config``'s limits."""
    return ParseRules(
        subscription=config.subscribe, features=model.spec.features, known=model.spec.targets,
        ignore_unknown=config.ignore_unknown, max_bytes=config.max_payload, max_future_s=config.max_future_s,
    )
