"""`forecaster serve` at run time: wire model, MQTT client, worker, metrics and signals.

The configuration is one frozen `ServeConfig`, built once by the command from flags, TOML
and environment. Shutdown (SIGTERM/SIGINT: the handlers only set a flag) stops taking
messages, lets the worker finish the queue, saves the state file, publishes ``offline``
and disconnects.
"""

from __future__ import annotations

import gc
import logging
import signal
import threading
import time
from dataclasses import dataclass

from forecaster.serve.mqtt_client import MqttClient, MqttSettings
from forecaster.serve.service import ForecastService, check_template
from forecaster.serve.state import restore_state, save_state
from forecaster.serve.telemetry import Metrics, serve_http
from pipelines.errors import ForecasterError
from pipelines.payloads import ParseRules

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


def run_daemon(config: ServeConfig, *, model=None, stop: threading.Event | None = None) -> int:
    """Serve forecasts until SIGTERM/SIGINT (or until ``stop`` is set).

    Args:
        config: the validated settings.
        model: an already loaded Forecaster (loaded from ``config.bundle`` when None).
        stop: an event that ends the daemon like a signal does (tests, embedding).

    Returns:
        0 after a clean shutdown.
    """
    if model is None:
        from forecaster.model import Forecaster

        if config.threads and config.runtime == "keras":
            from forecaster.nn.tf_env import limit_threads

            limit_threads(config.threads)
        model = Forecaster.load(config.bundle, runtime=config.runtime, threads=config.threads or None)
    started = time.perf_counter()
    model.warmup()  # compile every batch size before taking traffic: no forecast waits for XLA
    log.info("warmed up the %s predict path in %.1f s", config.runtime, time.perf_counter() - started)
    # TensorFlow leaves millions of long-lived Python objects; a full garbage collection that
    # scans them all stalls the worker for 100+ ms. Freeze them out of the collector's view.
    gc.collect()
    gc.freeze()
    rules = ParseRules(
        subscription=config.subscribe, features=model.spec.features, known=model.spec.targets,
        ignore_unknown=config.ignore_unknown, max_bytes=config.max_payload, max_future_s=config.max_future_s,
    )
    metrics = Metrics()
    stop = stop or threading.Event()

    def on_state(up: bool) -> None:
        metrics.connected.set(1 if up else 0)
        if up:
            metrics.connects.inc()

    service_box: list[ForecastService] = []
    client = MqttClient(
        config.mqtt, subscriptions=[(config.subscribe, config.qos_in)],
        on_message=lambda topic, payload: service_box[0].receive(topic, payload),
        status_topic=config.status_topic, on_state=on_state,
    )
    service = ForecastService(
        model, rules=rules, publisher=client, template=config.publish, qos=config.qos_out, retain=config.retain,
        metrics=metrics, max_sensors=config.max_sensors, queue_size=config.queue_size,
        more_pending=client.incoming_pending,
    )
    service_box.append(service)
    if config.state_file:
        restored = restore_state(config.state_file, service.windows, model)
        if restored:
            log.info("restored the windows of %d sensor(s) from %s", restored, config.state_file)

    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda _signum, _frame: stop.set())  # only a flag

    worker_stop = threading.Event()
    worker = threading.Thread(target=service.run, args=(worker_stop,), kwargs={"max_batch": config.max_batch},
                              name="forecast-worker", daemon=True)
    worker.start()
    http = None
    if config.metrics_port is not None:
        try:
            http = serve_http(
                metrics, config.metrics_host, config.metrics_port,
                healthy=lambda: worker.is_alive(),
                ready=lambda: worker.is_alive() and client.connected.is_set(),
            )
        except OSError as exc:
            worker_stop.set()
            service.wake()
            raise ForecasterError(f"cannot listen on {config.metrics_host}:{config.metrics_port}: {exc}") from None
    client.start()
    log.info(
        "serving %s (%s, input %d x %s): %s %s -> %s%s", model.name, model.freq_, model.spec.input_steps,
        list(model.spec.features), config.mqtt.broker, config.subscribe, config.publish,
        f", metrics on http://{config.metrics_host}:{http.server_address[1]}/metrics" if http else "",
    )
    try:
        while not stop.wait(5.0):  # a signal handler sets `stop`, which ends the wait at once
            pass
    finally:
        log.info("shutting down: finishing %d queued reading(s)", service.inbox.qsize())
        service.accepting = False
        worker_stop.set()
        service.wake()
        worker.join(config.drain_timeout)
        if worker.is_alive():
            log.error("the worker did not finish within %.1f s; %d reading(s) dropped",
                      config.drain_timeout, service.inbox.qsize())
        if config.state_file:
            with service.processing_lock:  # a reading processed in the network thread is complete
                save_state(config.state_file, service.windows, model)
            log.info("saved the windows of %d sensor(s) to %s", len(service.windows), config.state_file)
        client.flush(2.0)
        client.stop()
        if http is not None:
            http.shutdown()
            http.server_close()
        log.info("stopped: %d forecasts published", int(metrics.value("forecaster_forecasts_published_total") or 0))
    return 0
