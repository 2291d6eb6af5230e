"""When a reading's MQTT message is acknowledged: only once its effect is safe.

The MQTT client runs with paho's manual acknowledgements; each message carries an opaque
token back to `Delivery.commit`. The worker appends each processed batch to the journal (one
write, `forecaster.serve.state.StateStore`) and hands its tokens to the committer thread, which
``fsync``s everything appended so far in one call (a group commit) and only then acknowledges:
a reading the broker has forgotten is always on disk, and neither the worker nor a forecast
waits for the disk. A rejected message is acknowledged at once (there is nothing to keep).
Without a state file there is nothing on disk to wait for: messages are acknowledged once
processed, and a crash loses the windows (see deploy/README.md).
The committer thread also writes the periodic snapshots, captured by the worker (a quick copy)
and serialised here, outside the worker's lock.
A journal write or sync that fails leaves its messages unacknowledged (the broker redelivers
them after the next reconnect), is counted and logged at a limited rate, and makes the daemon
not ready.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from forecaster.serve.state import Snapshot, StateStore
from forecaster.serve.telemetry import Metrics, RateLimitedLog
from pipelines.stream import WindowRegistry

log = logging.getLogger(__name__)


class Delivery:
    """Journal, sync, then acknowledge; snapshot the windows every ``interval`` seconds.

    Args:
        acknowledge: sends the acknowledgements of a list of tokens (the MQTT client's
            `ack`); None: nothing to acknowledge (QoS 0, tests).
        store: the state file's snapshot and journal; None: no state file (no thread).
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
        self.failing = False  # the last journal write or sync failed (not ready)
        self._next_snapshot = clock() + interval if interval else float("inf")
        self._log = RateLimitedLog(log.error, interval=10.0)
        self._cond = threading.Condition()
        self._tokens: list[Any] = []  # journalled, waiting for the sync
        self._snapshot: Snapshot | None = None  # captured, waiting to be written
        self._busy = False
        self._stopping = False
        self._thread: threading.Thread | None = None
        if store is not None:
            self._thread = threading.Thread(target=self._commit_loop, name="state-committer", daemon=True)
            self._thread.start()

    # ------------------------------------------------------------- worker side
    def commit(self, readings: Sequence[tuple[str, int, Sequence[float]]], tokens: Sequence[Any]) -> bool:
        """Journal ``readings`` (the batch's accepted ones); ``tokens`` (every message of the
        batch) are acknowledged once that write is synced. False when the journal refused the
        write (nothing will be acknowledged)."""
        if self.store is None:
            self.ack(tokens)
            return True
        try:
            self.store.record(readings)
        except OSError as exc:
            self._failed("journal", f"cannot journal {len(readings)} reading(s) to {self.store.path}: {exc}; "
                                    "not acknowledged (the broker redelivers them after a reconnect)")
            return False
        with self._cond:
            self._tokens.extend(t for t in tokens if t is not None)
            self._cond.notify()
        return True

    def ack(self, tokens: Sequence[Any]) -> None:
        """Acknowledge messages whose effect is safe (or that had none: rejections)."""
        tokens = [t for t in tokens if t is not None]
        if self.acknowledge is not None and tokens:
            self.acknowledge(tokens)

    def snapshot_due(self) -> bool:
        """True when ``interval`` has passed since the last snapshot (and there is a state file)."""
        return self.store is not None and self.clock() >= self._next_snapshot

    def snapshot_if_due(self, registry: WindowRegistry) -> bool:
        """Capture a snapshot when ``interval`` has passed (hold the lock that guards
        ``registry``); the committer thread writes it."""
        if not self.snapshot_due():
            return False
        self._next_snapshot = self.clock() + self.interval
        snapshot = self._capture(registry)
        if snapshot is not None:
            with self._cond:
                self._snapshot = snapshot
                self._cond.notify()
        return True

    def snapshot(self, registry: WindowRegistry, *, clean: bool = False) -> None:
        """Sync, acknowledge and write a snapshot now (hold the lock that guards ``registry``;
        at a stop). ``clean``: every forecast was acknowledged by the broker."""
        if self.store is None:
            return
        self.drain()
        snapshot = self._capture(registry)
        if snapshot is not None:
            self._write(snapshot, clean=clean)

    def drain(self, timeout: float = 30.0) -> bool:
        """Wait until every journalled batch is synced and acknowledged and no snapshot waits."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while (self._tokens or self._snapshot is not None or self._busy) and self._thread is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def close(self) -> None:
        """Stop the committer thread after it has finished its work."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(30)

    # ---------------------------------------------------------- committer side
    def _commit_loop(self) -> None:
        while True:
            with self._cond:
                while not (self._tokens or self._snapshot is not None or self._stopping):
                    self._cond.wait()
                if not (self._tokens or self._snapshot is not None):
                    return
                tokens, self._tokens = self._tokens, []
                snapshot, self._snapshot = self._snapshot, None
                self._busy = True
            try:
                self._sync_and_ack(tokens)
                if snapshot is not None:
                    self._write(snapshot, clean=False)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _sync_and_ack(self, tokens: list[Any]) -> None:
        try:
            self.store.sync()
        except OSError as exc:
            self._failed("journal", f"cannot sync the journal of {self.store.path}: {exc}; {len(tokens)} message(s) "
                                    "not acknowledged (the broker redelivers them after a reconnect)")
            return
        self.failing = False
        self.ack(tokens)

    def _capture(self, registry: WindowRegistry) -> Snapshot | None:
        try:
            return self.store.capture(registry)
        except OSError as exc:
            self._failed("snapshot", f"cannot start a new journal segment for {self.store.path}: {exc}")
            return None

    def _write(self, snapshot: Snapshot, *, clean: bool) -> None:
        try:
            self.store.write(snapshot, clean=clean)
        except OSError as exc:
            self.metrics.state_errors.inc()
            self._log("snapshot", f"cannot write the state file {self.store.path}: {exc}; the journal keeps the readings")
            return
        self.metrics.state_saves.observe(self.store.last_save_seconds)

    def _failed(self, key: str, message: str) -> None:
        self.failing = True
        self.metrics.state_errors.inc()
        self._log(key, message)
