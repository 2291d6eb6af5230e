"""Stateless replicas: the service's windows live in a shared store (`RedisWindows`), so that
any replica behind an MQTT 5 shared subscription (``$share/GROUP/...``) can take any reading.

`SharedWindows.process` replaces the in-memory window step of `ForecastService.process`: a batch
of readings is pushed to Redis in one round trip (each reading held by slot, idempotently); the
Lua script claims, for exactly one replica, the forecast slots that became complete, and this
replica predicts them in one batch, publishes them (every claimed slot, in slot order, never
only the newest) and confirms the claims (with its next push, or at once when idle). Messages
are acknowledged once Redis has answered the push.

Redis down: the batch is retried with backoff (the worker holds it; the broker sends no more
than the receive maximum, ``queue-size``, unacknowledged), the daemon is not ready, one ERROR
line says so; back up: the forecasts a lost answer may have claimed are recovered, then the
batch goes through. At a stop during an outage the batch is left unacknowledged (redelivered).
Claims never confirmed (a replica killed between claim and publish) are taken over and
published by their owner when it restarts, or by any replica once older than `CLAIM_LEASE`.
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np
from prometheus_client import Counter, Gauge, Histogram

from forecaster.serve.delivery import Delivery
from forecaster.serve.redis_store import AGAIN, CONFLICT, HELD, TOO_LATE, Claim, RedisWindows, StoreDown, redacted
from forecaster.serve.store_outage import StoreOutage
from forecaster.serve.telemetry import Metrics
from pipelines.errors import ForecasterError
from pipelines.payloads import Reading, Rejection
from pipelines.rejections import Cause
from pipelines.slotted import windows_at

log = logging.getLogger(__name__)

CLAIM_LEASE = 60.0  # seconds after which any replica publishes another's unconfirmed claim


class Service(Protocol):
    """What `SharedWindows` uses of `forecaster.serve.service.ForecastService`."""

    accepting: bool
    inbox: queue.Queue
    metrics: Metrics
    delivery: Delivery
    predict: Callable[[np.ndarray, Sequence[str], Sequence[int]], np.ndarray]  # windows, sensors, last slot times (ns)
    step_ns: int

    def reject(self, rejection: Rejection, topic: str | None = None) -> None: ...

    def _publish(self, sensors: Sequence[str], forecasts: np.ndarray, slots: Sequence[int]) -> int: ...


class SharedWindows:
    """The windows of every sensor in Redis; forecasts claimed there, published here.

    Args:
        store: the Redis window store.
        metrics: the daemon's metrics (the store's own are added to its registry).
        fingerprint: the window settings, recorded in (or checked against) the store.
        clock, sleep: monotonic seconds and a sleep (tests inject them).
    """

    def __init__(self, store: RedisWindows, metrics: Metrics, fingerprint: dict, *,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        self.store, self.fingerprint = store, fingerprint
        self.outage = StoreOutage(redacted(store.url))
        self._clock, self._sleep = clock, sleep
        self._checked = False
        self._next_sweep = 0.0
        self._next_ping, self._ping_failed = 0.0, False
        self._published: dict[str, int] = {}  # published, not yet confirmed in Redis: sensor -> last slot
        r = metrics.registry
        self.errors = Counter("forecaster_state_store_errors", "Failed calls to the state store (Redis).", registry=r)
        self.up = Gauge("forecaster_state_store_up", "1 while the state store (Redis) answers.", registry=r)
        self.seconds = Histogram("forecaster_state_store_seconds", "Round trip of one batch of readings to the "
                                 "state store.", registry=r,
                                 buckets=(0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5))
        self.recovered = Counter("forecaster_forecasts_recovered", "Claimed forecasts published by recovery (a "
                                 "replica killed, or an answer of the store lost, before they were confirmed).",
                                 registry=r)

    @property
    def failing(self) -> bool:
        """True while the store does not answer (not ready): the last batch failed, or a ping
        (at most one a second, so that an idle replica notices too) did."""
        if self.outage.down:
            return True
        now = self._clock()
        if now >= self._next_ping:
            self._next_ping = now + 1.0
            try:
                self.store.ping()
                self._ping_failed = False
            except StoreDown:
                self._ping_failed = True
        return self._ping_failed

    def start(self, service: Service) -> None:
        """Check the store's settings and publish what this replica claimed before a crash (at
        start, before the worker runs). A store that does not answer is not an error here: the
        daemon starts not ready and recovers once it answers."""
        try:
            self.recover(service)
        except StoreDown as exc:
            self.errors.inc()
            self.outage.failed(exc)
            self.up.set(0)

    def close(self) -> None:
        """At a stop, after the worker: confirm what was published (or a restart would publish it again)."""
        self._confirm_published()
        self.store.close()

    def process(self, service: Service, items: Sequence[Reading | Rejection], tokens: Sequence[object] | None) -> int:
        """Push the batch's readings, acknowledge ``tokens`` once Redis has them, publish the
        forecasts they made due. Returns the forecasts published (0, nothing acknowledged:
        stopping while the store is down)."""
        tokens = tokens or ()
        readings, dups = [], []
        for k, item in enumerate(items):
            if isinstance(item, Rejection):
                service.reject(item)
            elif not np.isfinite(item.values).all():  # a missing row changes nothing (`RollingWindow.push`)
                service.metrics.accept()
            else:
                readings.append(item)
                dups.append(bool(getattr(tokens[k] if k < len(tokens) else None, "dup", False)))
        answers = self._push(service, readings)
        if answers is None:
            return 0
        service.delivery.ack(tokens)  # in Redis now; a claim not yet published is recovered after a crash
        claims = []
        for item, dup, (status, claim) in zip(readings, dups, answers):
            self._count(service, item, status, dup)
            if claim is not None:
                claims.append(claim)
        published = self._publish(service, claims)
        if service.inbox.empty():  # else the next batch's push carries the confirmations (one round trip)
            self._confirm_published()
        if self._clock() >= self._next_sweep:
            self._sweep(service)
        return published

    def recover(self, service: Service, stale_after: float | None = None) -> int:
        """Publish the claimed forecasts nobody confirmed: this replica's own (a crash, a lost
        answer) and, with ``stale_after`` seconds, any replica's claim that old. Returns the
        forecasts published. Raises `StoreDown`."""
        if not self._checked:
            self.store.check_settings(self.fingerprint)
            self._checked = True
        if self._published:
            self.store.confirm(list(self._published.items()))
            self._published.clear()
        now = self.store.now_ms()
        claims = []
        for owner, sensor in self.store.pending():
            if owner == self.store.owner:
                claim = self.store.take(owner, sensor)
            elif stale_after is not None:
                claim = self.store.take(owner, sensor, now - stale_after * 1000)
            else:
                continue
            if claim is not None:
                claims.append(claim)
        published = self._publish(service, claims)
        self._confirm_published()
        if published:
            self.recovered.inc(published)
            log.info("published %d claimed forecast(s) of %d sensor(s) that no replica had confirmed", published,
                     len({c.sensor for c in claims}))
        return published

    def _push(self, service: Service, readings: Sequence[Reading]) -> list[tuple[int, Claim | None]] | None:
        """Push until the store answers (recovering after an outage); None when the service
        stops meanwhile."""
        batch = [(r.sensor, r.ts.value, r.values) for r in readings]
        while True:
            try:
                if self.outage.down:
                    self.recover(service)
                started = time.perf_counter()
                answers = self.store.push(batch, confirm=list(self._published.items()))
                self.seconds.observe(time.perf_counter() - started)
                self._published.clear()
                self.outage.ok()
                self.up.set(1)
                return answers
            except (StoreDown, ForecasterError) as exc:
                self.errors.inc()
                self.up.set(0)
                wait = self.outage.failed(exc)
                if not service.accepting:
                    return None
                self._sleep(wait)

    def _count(self, service: Service, item: Reading, status: int, dup: bool) -> None:
        if status == HELD:
            service.metrics.accept()
        elif status == AGAIN or (status == TOO_LATE and dup):  # a redelivery (perhaps of a slot trimmed since)
            service.metrics.redelivered.inc()
        elif status == CONFLICT:
            service.reject(Rejection(Cause.DUPLICATE, f"duplicate reading: slot of {item.ts} already holds other "
                                     "values (several readings per slot are not combined with --state-store)", item.sensor))
        else:
            service.reject(Rejection(Cause.OUT_OF_ORDER, f"out-of-order reading: {item.ts} arrived after its slot was "
                                     "given up as missing (later than --reorder-slots)", item.sensor))

    def _publish(self, service: Service, claims: Sequence[Claim]) -> int:
        """Predict the windows of the claimed slots in one batch, publish them in slot order,
        confirm the claims."""
        store = self.store
        targets = [(c.sensor, slot, window) for c in claims
                   for slot, window in windows_at(c.slots, c.rows, c.lo, c.hi, length=store.length, max_gap=store.max_gap)]
        published = 0
        if targets:
            metrics = service.metrics
            sensors, slots, windows = zip(*targets)
            started = time.perf_counter()
            forecasts = service.predict(np.stack(windows), sensors, [slot * service.step_ns for slot in slots])
            metrics.inference.observe(time.perf_counter() - started)
            metrics.batch.observe(len(targets))
            published = service._publish(sensors, forecasts, slots)
            metrics.forecasts.inc(published)
        for c in claims:  # confirmed with the next push, or at once when idle (never published again)
            self._published[c.sensor] = max(c.hi, self._published.get(c.sensor, c.hi))
        return published

    def _confirm_published(self) -> None:
        try:
            self.store.confirm(list(self._published.items()))
            self._published.clear()
        except StoreDown as exc:  # kept: confirmed by the next push or recovery
            self.errors.inc()
            self.up.set(0)
            self.outage.failed(exc)

    def _sweep(self, service: Service) -> None:
        """Every half lease: publish other replicas' claims older than the lease."""
        self._next_sweep = self._clock() + CLAIM_LEASE / 2
        try:
            self.recover(service, stale_after=CLAIM_LEASE)
        except StoreDown as exc:
            self.errors.inc()
            self.outage.failed(exc)


def shared_windows(config, model, metrics: Metrics) -> SharedWindows | None:
    """The shared store of ``config`` (``--state-store``) for ``model``; None: in-memory windows."""
    if not config.state_store:
        return None
    from pipelines.timeutil import step_of

    spec = model.spec
    store = RedisWindows(config.state_store, namespace=config.share_group or "default", owner=config.mqtt.client_id,
                         n_columns=len(spec.features), length=spec.input_steps, max_gap=model.max_gap,
                         step_ns=step_of(model.freq_).value, reorder=config.reorder_slots)
    fingerprint = {"input_steps": spec.input_steps, "features": list(spec.features), "freq": model.freq_,
                   "max_gap": model.max_gap, "reorder_slots": config.reorder_slots}
    return SharedWindows(store, metrics, fingerprint)
