"""The daemon's logic, free of MQTT: readings in, forecasts out through a publisher.

`ForecastService.receive` runs in the MQTT network thread: it parses and enqueues (or
counts a rejection). `ForecastService.run` is the worker: it drains the queue, pushes each
reading into its sensor's `RollingWindow` (the batch path's cadence and gap rules), and
predicts the windows that completed together in ONE call of the forecaster's fast path.
An idle daemon takes a shortcut: when no message came in the last few milliseconds, nothing
is queued or being processed and no further message waits on the socket, the network thread
processes the reading itself (two thread switches saved). Under load readings go through the
queue and are predicted in batches. With ``shared`` the windows live in Redis instead
(`forecaster.serve.shared_service`, stateless replicas).
When one batch holds several new windows of the same sensor, only the newest is
predicted and published (the older ones are already out of date; they are counted as
superseded). Bad input is counted by cause and logged at a limited rate; it never stops
the worker and never changes a window.
With ``aggregate`` (``--aggregate``), a slot's readings wait in its sensor's window until
the slot is final: a reading of a later slot finalises it at once; otherwise the worker,
which wakes at least once per ``poll`` second, finalises it ``slot_grace`` seconds after the
slot's end on the daemon's clock, and its forecast is published then.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from forecaster.serve.delivery import Delivery
from forecaster.serve.formats import Formatter, model_outputs
from forecaster.serve.interfaces import Model, Publisher, WindowStore, identity
from forecaster.serve.live_scoring import LiveScoring, NoScoring, live_scoring
from forecaster.serve.map_paths import MapPathWarnings
from forecaster.serve.telemetry import ExceptionLog, Metrics, RateLimitedLog
from forecaster.serve.topics import check_template
from forecaster.serve.unseen import UnseenSensors
from pipelines.errors import ForecasterError, StaleReading
from pipelines.payloads import ParseRules, Reading, Rejection, parse_message
from pipelines.rejections import Cause
from pipelines.stream import WindowRegistry
from pipelines.timeutil import step_of

log = logging.getLogger(__name__)
_WAKE = object()  # put into the queue to wake the worker; not a reading


class ForecastService:
    """Windows per sensor, batched prediction, publishing.

    Args:
        model: a loaded forecaster.
        rules: how to parse messages (the model's features).
        publisher: where forecasts go.
        template: the publish topic, e.g. ``forecasts/{sensor}``.
        qos, retain: for published forecasts.
        metrics: counters (a fresh set when None).
        max_sensors: windows kept in memory (least recently updated evicted).
        queue_size: readings waiting for the worker before new ones are dropped.
        log_interval: seconds between log lines of one kind of rejection.
        more_pending: True when another message already waits to be read (the MQTT
            client's `incoming_pending`); enables the idle shortcut. None: always queue.
        idle_gap: seconds without a message after which the daemon counts as idle (the
            shortcut is only taken then, so that a busy daemon always batches).
        output_format: ``json`` or ``influx`` (`forecaster.serve.formats`); intervals: the levels in each step.
        announce: called with a sensor id before each of its forecasts is published (Home
            Assistant discovery announces a new sensor there); None: nothing.
        aggregate: several readings in one slot (`pipelines.readings.AGGREGATES`); None: the
            second one is refused as a duplicate.
        slot_grace: with ``aggregate``, seconds after a slot's end (on ``clock``) when the
            worker finalises it; None: one cadence step; 0: never (only a later reading does).
        clock: the daemon's clock, nanoseconds since the epoch (tests inject one).
        delivery: when messages are acknowledged and the windows saved
            (`forecaster.serve.delivery.Delivery`); None: no acknowledgements, no state file.
        live: scores the forecasts against the readings of their slots (`live_scoring`); None: a default one.
        shared: windows in a shared store (`WindowStore`, ``--state-store``); None: in memory.
    """

    def __init__(
        self,
        model: Model,
        *,
        rules: ParseRules,
        publisher: Publisher,
        template: str = "forecasts/{sensor}",
        qos: int = 1,
        retain: bool = False,
        metrics: Metrics | None = None,
        max_sensors: int = 10_000,
        queue_size: int = 100_000,
        log_interval: float = 10.0,
        more_pending: Callable[[], bool] | None = None,
        idle_gap: float = 0.005,
        output_format: str = "json",
        intervals: Sequence[float] = (),
        announce: Callable[[str], None] | None = None,
        aggregate: str | None = None,
        slot_grace: float | None = None,
        clock: Callable[[], int] = time.time_ns,
        delivery: Delivery | None = None,
        live: LiveScoring | NoScoring | None = None,
        shared: WindowStore | None = None,
    ) -> None:
        spec = model.spec
        if tuple(rules.features) != tuple(spec.features):
            raise ForecasterError(f"parse rules features {rules.features} differ from the model's {spec.features}")
        self.model, self.rules, self.publisher = model, rules, publisher
        self.template = check_template(template)
        self.qos, self.retain = qos, retain
        self.metrics = metrics or Metrics()
        self.step_ns = step_of(model.freq_).value
        self.format, self.predict = model_outputs(model, output_format, intervals)  # payloads; forecasts and bands
        self.metrics.show_model(identity(model))
        self.announce, self.unseen = announce, UnseenSensors(self.metrics)
        self.live = live or live_scoring(model, intervals, self.metrics)
        grace_ns = self.step_ns if slot_grace is None else (round(slot_grace * 1e9) or None)
        self.windows = WindowRegistry(
            length=spec.input_steps, n_columns=len(spec.features), step_ns=self.step_ns,
            max_gap=model.max_gap, max_sensors=max_sensors, aggregate=aggregate, grace_ns=grace_ns,
        )
        self.clock, self.shared = clock, shared
        self.delivery = delivery or Delivery(None, None, self.metrics, interval=None)
        self._evicted_seen = 0
        self._timer = self.windows.aggregate is not None and grace_ns is not None
        self.inbox: queue.Queue[tuple[Reading, object]] = queue.Queue(maxsize=queue_size)
        self.accepting = True
        self.alive = False
        self.more_pending = more_pending
        self.idle_gap = idle_gap
        self.queue_wait = 1.0  # seconds the network thread waits for room in a full queue
        self._last_arrival = float("-inf")
        self._log = RateLimitedLog(log.warning, interval=log_interval)
        self._bug = ExceptionLog(log, interval=log_interval)
        self.processing_lock = threading.Lock()  # held while windows change (hold it to read them consistently)
        self._enqueued = 0  # written by the network thread only
        self._done = 0  # written by the worker only; equal counts: nothing queued or running
        self._paths = MapPathWarnings(rules)

    # ----------------------------------------------------- network thread side
    def receive(self, topic: str, payload: bytes, token: object = None) -> None:
        """Parse one message and enqueue the reading (or count the rejection); on an idle
        daemon, process it at once (`_process_if_idle`). Never raises.

        ``token`` (the MQTT client's `Delivery`) is acknowledged once the reading's effect is
        safe; a message that arrives while shutting down is not acknowledged at all (the broker
        redelivers it to the next session)."""
        if not self.accepting:
            self.metrics.deferred.inc()
            return
        item = parse_message(topic, payload, self.rules, now=pd.Timestamp(self.clock(), unit="ns", tz="UTC"))
        if isinstance(item, Rejection):
            self.reject(item, topic)
            self.delivery.ack([token])
            return
        if item.ignored:
            self.metrics.ignored_fields.inc(len(item.ignored))
        self._paths.check(item, topic)
        now = time.monotonic()
        quiet, self._last_arrival = now - self._last_arrival >= self.idle_gap, now
        if quiet and self._process_if_idle(item, token):
            return
        try:
            # a full queue holds the network thread back a while (the broker's in-flight window
            # normally prevents it); still full: refused, not acknowledged (redelivered later)
            self.inbox.put((item, token), timeout=self.queue_wait)
            self._enqueued += 1
        except queue.Full:
            self.reject(Rejection(Cause.QUEUE_FULL, f"{self.inbox.maxsize} readings waiting", item.sensor), topic)
        self.metrics.queue.set(self.inbox.qsize())

    def _process_if_idle(self, item: Reading, token: object) -> bool:
        """Process ``item`` in the calling (network) thread when nothing is queued or being
        processed and no further message waits; True when it did.

        Readings of one sensor stay in order: a reading is only taken here when every
        earlier one has been processed.
        """
        if self.more_pending is None or self._enqueued != self._done or self.more_pending():
            return False
        if not self.processing_lock.acquire(blocking=False):
            return False
        try:
            if self._enqueued != self._done:  # the worker took a batch meanwhile
                return False
            self._process_logged([item], [token])
            return True
        finally:
            self.processing_lock.release()

    def _process_logged(self, items: Sequence[Reading | Rejection], tokens: Sequence[object]) -> None:
        try:
            self.process(items, tokens)
        except Exception:  # a bug must not silently kill a thread: log, keep serving
            self.metrics.internal_errors.inc()
            self._bug(f"failed to process a batch of {len(items)} readings")

    def reject(self, rejection: Rejection, topic: str | None = None) -> None:
        """Count and (rate-limited) log one refused message."""
        self.metrics.reject(rejection.cause)
        where = f" on {topic[:128]!r}" if topic is not None else (f" (sensor {rejection.sensor!r})" if rejection.sensor else "")
        self._log(rejection.cause, f"{rejection.detail}{where}")

    # ------------------------------------------------------------ worker side
    def process(self, items: Sequence[Reading | Rejection], tokens: Sequence[object] | None = None) -> int:
        """Push readings into windows, predict the completed windows in one batch, publish;
        then journal the accepted readings and acknowledge ``tokens`` (`Delivery.commit`).

        Returns:
            The number of forecasts published.
        """
        if self.shared is not None:
            return self.shared.process(self, items, tokens)
        newest, accepted = self._push(items, tokens)
        self.metrics.sensors.set(len(self.windows))
        self._count_evictions()
        published = self._forecast(newest)
        self.delivery.commit(accepted, tokens or ())
        return published

    def _count_evictions(self) -> None:
        evicted = self.windows.evicted
        if evicted != self._evicted_seen:
            self.metrics.evicted.inc(evicted - self._evicted_seen)
            self._evicted_seen = evicted
            self.live.retain(self.windows)
            self._log("evicted", f"sensor {self.windows.last_evicted!r} evicted (least recently updated; "
                                 f"--max-sensors {self.windows.max_sensors} reached); {evicted} so far")

    def finalize_due(self) -> int:
        """Finalise every pending slot whose grace has passed on ``clock``; predict and publish
        the windows that completes (hold ``processing_lock``). Returns the forecasts published."""
        newest = {}
        for sensor, completed in self.windows.finalize_due(self.clock()).items():
            if len(completed) > 1:
                self.metrics.superseded.inc(len(completed) - 1)
            newest[sensor] = (completed[-1], int(self.windows.get(sensor).last_slot))
            self.live.score(sensor, newest[sensor][1], completed[-1][-1])
        return self._forecast(newest)

    def republish(self) -> int:
        """Predict and publish the newest window of every sensor that has one (hold
        ``processing_lock``): after a crash, the forecasts paho had not yet sent are gone,
        while their readings are safe in the state. Returns the forecasts published."""
        newest = {s: (self.windows.get(s).window(), int(self.windows.get(s).last_slot))
                  for s in list(self.windows) if self.windows.get(s).ready}
        return self._forecast(newest)

    def _forecast(self, newest: dict[str, tuple[np.ndarray, int]]) -> int:
        """Predict the newest window of each sensor in one batch and publish."""
        if not newest:
            return 0
        sensors, slots = list(newest), [newest[s][1] for s in newest]
        batch = np.stack([newest[s][0] for s in sensors])
        self.unseen.check(self.model, sensors)
        started = time.perf_counter()
        forecasts = self.predict(batch, sensors, [slot * self.step_ns for slot in slots])  # scaling, calendar
        self.metrics.inference.observe(time.perf_counter() - started)
        self.metrics.batch.observe(len(sensors))
        published = self._publish(sensors, forecasts, slots)
        self.live.keep(sensors, forecasts, batch, slots)
        self.metrics.forecasts.inc(published)
        return published

    def _push(
        self, items: Sequence[Reading | Rejection], tokens: Sequence[object] | None,
    ) -> tuple[dict[str, tuple[np.ndarray, int]], list[tuple[str, int, tuple[float, ...]]]]:
        """Push each reading into its window. Returns the newest completed window (and its last slot)
        of each sensor, and the accepted ``(sensor, ns, values)`` for the journal. Older windows of
        the batch are superseded; a stale reading the window holds, or flagged by the broker as sent
        before and older than the window's rows, is a redelivery (counted, not an error)."""
        newest: dict[str, tuple[np.ndarray, int]] = {}
        accepted: list[tuple[str, int, tuple[float, ...]]] = []
        for k, item in enumerate(items):
            if isinstance(item, Rejection):
                self.reject(item)
                continue
            window = self.windows.get(item.sensor)
            try:
                completed = window.push(item.ts, item.values)
            except StaleReading as exc:
                flagged = getattr(tokens[k] if tokens else None, "dup", False)
                if window.holds(item.ts, item.values) or (flagged and not window.spans(item.ts)):
                    self.metrics.redelivered.inc()
                else:
                    self.reject(Rejection(Cause(exc.kind), str(exc), item.sensor))
                continue
            except ForecasterError as exc:  # parse_message already checks shape and finiteness
                self.reject(Rejection(Cause.WINDOW_ERROR, str(exc), item.sensor))
                continue
            self.metrics.accept()
            accepted.append((item.sensor, item.ts.value, item.values))
            if completed:
                superseded = len(completed) - 1 + (item.sensor in newest)
                if superseded:
                    self.metrics.superseded.inc(superseded)
                newest[item.sensor] = (completed[-1], int(window.last_slot))
                self.live.score(item.sensor, int(window.last_slot), completed[-1][-1])
        return newest, accepted

    def _publish(self, sensors: Sequence[str], forecasts: np.ndarray, slots: Sequence[int]) -> int:
        """Publish each sensor's forecast (never a non-finite one); how many went out."""
        published = 0
        finite = np.isfinite(forecasts).all(axis=(1, 2))
        for sensor, forecast, ok, slot in zip(sensors, forecasts, finite, slots):
            if not ok:  # JSON has no NaN: never publish one, count it
                self.metrics.publish_errors.inc()
                self._log("non_finite_forecast", f"forecast for {sensor!r} is not finite; not published")
                continue
            try:
                payload = self.format(sensor, slot, forecast)
            except ForecasterError as exc:  # a sensor id the output format cannot carry
                self.metrics.publish_errors.inc()
                self._log("unformattable_forecast", f"forecast for {sensor[:128]!r} not published: {exc}")
                continue
            if self.announce is not None:
                self.announce(sensor)
            topic = self.template.replace("{sensor}", sensor)
            if self.publisher.publish(topic, payload, self.qos, self.retain):
                published += 1
                log.debug("forecast for %s (slot %d) published to %s", sensor, slot, topic)
            else:
                self.metrics.publish_errors.inc()
                self._log("publish_error", f"forecast for {sensor!r} dropped (not connected, QoS 0)")
        return published

    def swap(self, model: Model, outputs: tuple[Formatter, Callable], windows: WindowRegistry | None) -> None:
        """Serve ``model`` (with its `model_outputs`) from the next batch on: takes ``processing_lock``,
        so the swap falls between two batches. ``windows``: a new registry when the old windows do
        not fit ``model`` (None: kept; they hold readings in sensor units, which any scaler reads)."""
        with self.processing_lock:
            self.model, (self.format, self.predict) = model, outputs
            if windows is not None:
                self.windows, self.step_ns = windows, windows.settings["step_ns"]
                self.live.retain(windows)  # forecasts kept for scoring belong to the old slots
            if self.live.anomalies is not None:  # anomaly flags name the model and time their slots
                self.live.anomalies.model, self.live.anomalies.step_ns = identity(model), self.step_ns
            self.metrics.show_model(identity(model))
            self.metrics.sensors.set(len(self.windows))

    def wake(self) -> None:
        """Wake the worker at once (after setting its stop event) instead of at its next poll."""
        try:
            self.inbox.put_nowait(_WAKE)
        except queue.Full:  # a full queue keeps the worker busy; it sees the stop event when drained
            pass

    def run(self, stop: threading.Event, *, max_batch: int = 1024, poll: float = 1.0) -> None:
        """The worker loop: until ``stop`` is set AND the queue is empty. It sleeps on the queue, not
        on a timer: an idle daemon wakes once per ``poll`` seconds (`wake` ends the wait early), so
        idle cores stay idle. With ``aggregate`` and a slot grace, a wake also finalises the slots
        that are due (at least once per ``poll`` seconds while readings keep it busy)."""
        self.alive = True
        due = time.monotonic() + poll
        try:
            while not (stop.is_set() and self.inbox.empty()):
                entries = self._take(max_batch, poll)
                if entries:
                    self.metrics.queue.set(self.inbox.qsize())
                    items, tokens = zip(*entries)
                    with self.processing_lock:
                        self._process_logged(items, tokens)
                    self._done += len(entries)
                if self.delivery.snapshot_due():  # checked without the lock: most loops have none
                    with self.processing_lock:
                        self.delivery.snapshot_if_due(self.windows)
                if self._timer and (not entries or time.monotonic() >= due):
                    due = time.monotonic() + poll
                    with self.processing_lock:
                        self._finalize_logged()
        finally:
            self.alive = False

    def _take(self, max_batch: int, poll: float) -> list[tuple[Reading, object]]:
        """Up to ``max_batch`` queued ``(reading, token)`` entries, waiting at most ``poll``
        seconds for the first."""
        try:
            first = self.inbox.get(timeout=poll)
        except queue.Empty:
            return []
        items: list[tuple[Reading, object]] = [] if first is _WAKE else [first]
        while len(items) < max_batch:
            try:
                item = self.inbox.get_nowait()
            except queue.Empty:
                break
            if item is not _WAKE:
                items.append(item)
        return items

    def _finalize_logged(self) -> None:
        try:
            self.finalize_due()
        except Exception:  # a bug must not silently kill the worker: log, keep serving
            self.metrics.internal_errors.inc()
            self._bug("failed to finalise the due slots")
