"""`forecaster serve` at run time: the `Daemon` wires model, MQTT client, worker and metrics.

The configuration is one frozen `forecaster.serve.config.ServeConfig`, built once by the command from flags, TOML
and environment. `Daemon.start` warms the model up, restores the windows (snapshot and
journal), starts the worker and the metrics endpoint and connects; `Daemon.stop` stops
taking messages (those that still arrive are left unacknowledged, for the broker to
redeliver to the next session), lets the worker finish and acknowledge the queue, saves the
snapshot, publishes ``offline`` and disconnects. QoS 1 readings are acknowledged only once
journalled (`forecaster.serve.delivery`).
Process-wide set-up (signal handlers that only set a flag, TensorFlow threads, the garbage
collector, logging) belongs to the program that embeds the daemon: `forecaster.cli.mqtt`.
"""

from __future__ import annotations

import logging
import threading
import time
from http.server import ThreadingHTTPServer
from typing import TYPE_CHECKING

from forecaster.serve.config import ServeConfig
from forecaster.serve.delivery import Delivery
from forecaster.serve.discovery import Discovery
from forecaster.serve.live_scoring import NoScoring, live_scoring
from forecaster.serve.mqtt_client import MqttClient
from forecaster.serve.reload import Reloader
from forecaster.serve.service import ForecastService
from forecaster.serve.shared_service import shared_windows
from forecaster.serve.state import StateStore
from forecaster.serve.telemetry import Metrics, serve_http
from pipelines.errors import ForecasterError
from pipelines.payloads import ParseRules

if TYPE_CHECKING:
    from forecaster.model import Forecaster

log = logging.getLogger(__name__)


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
            config.mqtt, subscriptions=[(config.subscription, config.qos_in)], on_message=self.on_message,
            status_topic=config.status_topic, on_state=self.on_connection, buffer_size=config.publish_buffer,
            manual_ack=True, receive_maximum=config.queue_size,
        )
        self.store = StateStore(config.state_file, model) if config.state_file else None
        self.shared = shared_windows(config, model, self.metrics)  # --state-store: windows in Redis
        delivery = Delivery(self.client.ack, self.store, self.metrics, interval=config.state_interval)
        self.metrics.watch_publisher(self.client)
        self.discovery = None if config.ha_discovery is None else Discovery(
            self.client, prefix=config.ha_discovery, client_id=config.mqtt.client_id, template=config.publish,
            status_topic=config.status_topic, model=model.name, targets=model.spec.targets, qos=config.qos_out,
        )
        self.service = ForecastService(
            model, rules=parse_rules(config, model), publisher=self.client, template=config.publish,
            qos=config.qos_out, retain=config.retain, metrics=self.metrics, max_sensors=config.max_sensors,
            queue_size=config.queue_size, more_pending=None if self.shared else self.client.incoming_pending,
            output_format=config.output_format, announce=self.discovery.announce if self.discovery else None,
            aggregate=config.aggregate, slot_grace=config.slot_grace, delivery=delivery, intervals=config.intervals,
            live=live_scoring(model, config.intervals, self.metrics, per_sensor=config.metrics_per_sensor,
                              publisher=self.client, anomaly_topic=config.anomaly_topic, qos=config.qos_out,
                              anomaly_level=config.anomaly_level, anomaly_step=config.anomaly_step)
            if config.live_scoring else NoScoring(),
            shared=self.shared,
        )
        self._worker_stop = threading.Event()
        self._worker = threading.Thread(
            target=self.service.run, args=(self._worker_stop,), kwargs={"max_batch": config.max_batch},
            name="forecast-worker", daemon=True,
        )
        self._http: ThreadingHTTPServer | None = None
        self._warm = False
        self.reloader = Reloader(self)  # SIGHUP (`reload`) and --watch

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
            ForecasterError: a state file that cannot be written, read or validated, or the
                metrics port is taken.
        """
        if self.store is not None:
            self.store.check_writable()
        self.warm_up()
        if self.store is not None:
            sensors, replayed = self.store.restore(self.service.windows)
            if sensors or replayed:
                log.info("restored the windows of %d sensor(s): %d from the snapshot %s, then %d newer reading(s) "
                         "from its journal", len(self.service.windows), sensors, self.store.path, replayed)
            if not self.store.clean_stop:
                with self.service.processing_lock:
                    count = self.service.republish()
                if count:
                    log.info("the last run did not stop cleanly: re-published the newest forecast of %d sensor(s) "
                             "(those in flight at the crash were lost with the process)", count)
        if self.shared is not None:
            self.shared.start(self.service)  # publishes what this replica claimed before a crash
        self._worker.start()
        self.reloader.start()
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
        """Stop taking messages (later ones stay unacknowledged, for the next session), let the
        worker finish and acknowledge the queue (``drain_timeout``), save the windows, publish
        ``offline`` and disconnect."""
        service = self.service
        self.reloader.stop()
        service.accepting = False
        log.info("shutting down: finishing %d queued reading(s)", service.inbox.qsize())
        self._stop_worker()
        self._worker.join(self.config.drain_timeout)
        if self._worker.is_alive():
            log.error("the worker did not finish within %.1f s; %d reading(s) dropped",
                      self.config.drain_timeout, service.inbox.qsize())
        delivered = self.client.flush(self.config.drain_timeout)
        if self.shared is not None:
            self.shared.close()
        if self.store is not None:
            with service.processing_lock:  # a reading processed in the network thread is complete
                service.delivery.snapshot(service.windows, clean=delivered)
            service.delivery.close()
            self.store.close()
            log.info("saved the windows of %d sensor(s) to %s", len(service.windows), self.store.path)
        self.client.stop()
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
        log.info("stopped: %d forecasts published", int(self.metrics.value("forecaster_forecasts_published_total") or 0))

    def reload(self) -> None:
        """Load the bundle again and serve it if it changed (`forecaster.serve.reload`): in the
        reload thread, so a signal handler may call this."""
        self.reloader.request()

    # --------------------------------------------------------- health and callbacks
    def healthy(self) -> bool:
        """``/healthz``: the worker is alive."""
        return self._worker.is_alive()

    def ready(self) -> bool:
        """``/readyz``: the worker is alive, the broker connected, every subscription granted,
        and the broker did not refuse the last acknowledged publish (MQTT 5 reason codes;
        MQTT 3.1.1 cannot report a refused publish, see deploy/README.md), and the journal
        accepts writes (or the state store answers)."""
        client = self.client
        return (self._worker.is_alive() and client.connected.is_set() and client.subscribed
                and client.refused_by_broker is None and not self.service.delivery.failing
                and not (self.shared is not None and self.shared.failing))

    def on_message(self, topic: str, payload: bytes, delivery: object = None) -> None:
        """The MQTT client's message callback (paho's network thread): to the service, with
        the token that acknowledges the message once its effect is safe."""
        self.service.receive(topic, payload, delivery)

    def on_connection(self, up: bool) -> None:
        """The MQTT client's connection callback: the connection gauge and counter; after each
        (re)connect, the Home Assistant discovery configs again (retained)."""
        self.metrics.connected.set(1 if up else 0)
        if up:
            self.metrics.connects.inc()
            if self.discovery is not None:
                self.discovery.republish()

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
        """One start-up line: what is served from where to where, and how long each sensor's
        first window takes to fill (nothing is published before)."""
        from pipelines.timeutil import step_of

        config, model, http = self.config, self.model, self._http
        steps = model.spec.input_steps
        span = (steps * step_of(model.freq_)).components
        units = ((span.days, "day" if span.days == 1 else "days"), (span.hours, "h"), (span.minutes, "min"),
                 (span.seconds, "s"))
        wait = " ".join(f"{n} {unit}" for n, unit in units if n) or "under a second"
        log.info(
            "serving %s (%s, input %d x %s): %s %s -> %s; each sensor needs %d readings (%s at %s) before its "
            "first forecast%s", model.name, model.freq_, steps, list(model.spec.features), config.mqtt.broker,
            config.subscription, config.publish, steps, wait, model.freq_,
            f"; metrics on http://{config.metrics_host}:{http.server_address[1]}/metrics" if http else "",
        )
        if config.anomaly_topic:
            log.info("anomaly flags: readings outside the %s interval of the %d-step forecast to %s",
                     config.anomaly_level, config.anomaly_step, config.anomaly_topic)
        if config.output_format != "json" or config.ha_discovery:
            log.info("forecasts as %s%s", config.output_format,
                     f"; Home Assistant discovery under {config.ha_discovery}/sensor/" if config.ha_discovery else "")


def parse_rules(config: ServeConfig, model: Forecaster) -> ParseRules:
    """What a valid reading looks like for ``model`` under ``config``'s limits."""
    return ParseRules(
        subscription=config.subscribe, features=model.spec.features, known=model.spec.targets,
        ignore_unknown=config.ignore_unknown, max_bytes=config.max_payload, max_future_s=config.max_future_s,
        ts_field=config.ts_field, mapping=config.mapping, arrival_time=config.arrival_time,
    )
