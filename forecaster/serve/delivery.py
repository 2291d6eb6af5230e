"""When a reading's MQTT message is acknowledged: only once its effect is safe.

The MQTT client runs with paho's manual acknowledgements; each message carries an opaque
token back to `Delivery.commit`. A processed batch is journalled (one write, one fsync: a group
commit, `forecaster.serve.state.StateStore`) and only then are its tokens acknowledged, so a
reading the broker has forgotten is always on disk; a rejected message is acknowledged at once
(there is nothing to keep). Without a state file there is nothing on disk to wait for: messages
are acknowledged once processed, and a crash loses the windows (see deploy/README.md).
A journal write that fails leaves the batch unacknowledged (the broker redelivers it after the
next reconnect), is counted and logged at a limited rate, and makes the daemon not ready.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from forecaster.serve.state import StateStore
from forecaster.serve.telemetry import Metrics, RateLimitedLog
from pipelines.stream import WindowRegistry

log = logging.getLogger(__name__)


class Delivery:
    """Journal, then acknowledge; snapshot the windows every ``interval`` seconds.

    Args:
        acknowledge: sends the acknowledgements of a list of tokens (the MQTT client's
            `ack`); None: nothing to acknowledge (QoS 0, tests).
        store: the state file's snapshot and journal; None: no state file.
        metrics: where saves, their duration and journal failures are counted.
        interval: seconds between snapshots (None: only at shutdown).
        clock: monotonic seconds (tests inject one).
    """

    def __init__(
        self,
        acknowledge: Callable[[Sequence[Any]], None] | None,
        store: StateStore | None,
        metrics: Metrics,
        *,
        interval: float | None = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.acknowledge = acknowledge
        self.store = store
        self.metrics = metrics
        self.interval = interval
        self.clock = clock
        self.failing = False  # the last journal write failed (not ready)
        self._next_snapshot = clock() + interval if interval else float("inf")
        self._log = RateLimitedLog(log.error, interval=10.0)

    def commit(self, readings: Sequence[tuple[str, int, Sequence[float]]], tokens: Sequence[Any]) -> bool:
        """Journal ``readings`` (the batch's accepted ones), then acknowledge ``tokens`` (every
        message of the batch); False when the journal refused them (nothing acknowledged)."""
        if self.store is not None and readings:
            try:
                self.store.record(readings)
            except OSError as exc:
                self.failing = True
                self.metrics.state_errors.inc()
                self._log("journal", f"cannot journal {len(readings)} reading(s) to {self.store.path}: {exc}; "
                                     "not acknowledged (the broker redelivers them after a reconnect)")
                return False
            self.failing = False
        self.ack(tokens)
        return True

    def ack(self, tokens: Sequence[Any]) -> None:
        """Acknowledge messages whose effect is safe (or that had none: rejections)."""
        if self.acknowledge is not None and tokens:
            self.acknowledge([t for t in tokens if t is not None])

    def snapshot_if_due(self, registry: WindowRegistry) -> bool:
        """Snapshot when ``interval`` has passed (hold the lock that guards ``registry``)."""
        if self.store is None or self.clock() < self._next_snapshot:
            return False
        self.snapshot(registry)
        return True

    def snapshot(self, registry: WindowRegistry, *, clean: bool = False) -> None:
        """Write the snapshot now (hold the lock that guards ``registry``); a failure is logged
        and counted, and the journal keeps everything since the last good one. ``clean``: the
        final snapshot of a stop after every forecast was acknowledged."""
        if self.store is None:
            return
        if self.interval:
            self._next_snapshot = self.clock() + self.interval
        try:
            self.store.snapshot(registry, clean=clean)
        except OSError as exc:
            self.metrics.state_errors.inc()
            self._log("snapshot", f"cannot write the state file {self.store.path}: {exc}; the journal keeps the readings")
            return
        self.metrics.state_saves.observe(self.store.last_save_seconds)
