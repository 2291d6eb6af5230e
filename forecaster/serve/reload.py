"""Hot reload: a new bundle replaces the served model without a restart and without losing windows.

`forecaster serve` reloads its ``--model`` directory on SIGHUP, and with ``--watch`` when the
directory's files change (polled every ``--watch-interval`` seconds; a change is acted on once
the files have stayed the same for one more poll, so a bundle being copied is not read half
way). Only a bundle whose manifest verifies is loaded (`forecaster.bundle.read_meta`), and its
content hash must be the same after loading as before (a bundle rewritten meanwhile is tried
again at the next change).

The `Reloader` thread loads and warms the new model up beside the served one (the worker keeps
forecasting), then `ForecastService.swap` puts it in between two batches. The windows hold
readings in sensor units, so they stay as they are when the new bundle has the same input
length, features, cadence and gap rule (a new scaler reads them as well); otherwise they are
reset, with one log line saying what differs. A bundle with other features, targets or horizon
is refused (the message rules, the live scoring and the published series were set up for the
served ones: restart the daemon to serve it), as is one not calibrated at the served
``--interval`` levels. A bundle that fails leaves the served model serving: one ERROR line and
``forecaster_model_reload_failures_total``; a swap counts ``forecaster_model_reloads_total``.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import TYPE_CHECKING, Any

from forecaster.bundle import content_hash
from forecaster.serve.formats import model_outputs
from pipelines.conformal import level_key
from pipelines.errors import ForecasterError
from pipelines.stream import WindowRegistry
from pipelines.timeutil import step_of

if TYPE_CHECKING:
    from forecaster.model import Forecaster

log = logging.getLogger(__name__)


class Reloader:
    """Reloads ``daemon.config.bundle`` on `request` (SIGHUP) and, with ``config.watch``, on change.

    Args:
        daemon: the serving `forecaster.serve.daemon.Daemon` (its config, service, state store,
            metrics and model; `reload` replaces its model).
    """

    def __init__(self, daemon: Any) -> None:
        self.daemon = daemon
        self.path = daemon.config.bundle
        self.watch = daemon.config.watch
        self.poll = daemon.config.watch_interval
        self._asked = threading.Event()
        self._stop = threading.Event()
        self._seen = self._tried = self._signature() if self.watch else None
        self._thread = threading.Thread(target=self._loop, name="model-reload", daemon=True)

    def request(self) -> None:
        """Reload at once (in the reload thread); safe to call from a signal handler."""
        self._asked.set()

    def start(self) -> None:
        self._thread.start()
        log.info("the bundle %s is reloaded on SIGHUP%s", self.path,
                 f" and when it changes (looked at every {self.poll:g} s)" if self.watch else "")

    def stop(self) -> None:
        self._stop.set()
        self._asked.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._stop.is_set():
            asked = self._asked.wait(self.poll if self.watch else None)
            if self._stop.is_set():
                return
            if asked:
                self._asked.clear()
                self.reload("SIGHUP")
            elif self._settled_change():
                self.reload("the bundle directory changed")

    def _signature(self) -> tuple | None:
        """Name, size, modification time and inode of each file of the bundle directory."""
        try:
            with os.scandir(self.path) as entries:
                stats = [(e.name, e.stat()) for e in entries if e.is_file()]
        except OSError:
            return None
        return tuple(sorted((name, s.st_size, s.st_mtime_ns, s.st_ino) for name, s in stats))

    def _settled_change(self) -> bool:
        """True once the files differ from those last tried and have not changed since the last poll."""
        now, previous = self._signature(), self._seen
        self._seen = now
        return now is not None and now == previous and now != self._tried

    def reload(self, reason: str) -> bool:
        """Load, check and warm up the bundle, then swap it in; False when nothing changed or it
        failed (the served model keeps serving)."""
        self._tried = self._signature()
        served = self.daemon.model
        try:
            before = content_hash(self.path)
            if before == served.identity["hash"]:
                log.info("reload (%s): %s is unchanged (hash %s); still serving it", reason, self.path, before)
                return False
            model = self._load()
            if content_hash(self.path) != before:
                raise ForecasterError("the bundle changed while it was loaded; the next change or SIGHUP tries again")
            check_replacement(served, model, self.daemon.config.intervals,
                              shared=getattr(self.daemon, "shared", None) is not None)
            model.warmup()  # beside the served model: the worker keeps forecasting meanwhile
        except Exception as exc:  # any failure leaves the served model serving
            self.daemon.metrics.reload_failures.inc()
            log.error("reload (%s) of %s failed; still serving %s: %s", reason, self.path, _named(served), exc)
            return False
        self._swap(model)
        log.info("reloaded (%s): serving %s in place of %s", reason, _named(model), _named(served))
        return True

    def _load(self) -> Forecaster:
        from forecaster.model import Forecaster

        config = self.daemon.config
        return Forecaster.load(self.path, runtime=config.runtime, threads=config.threads or None)

    def _swap(self, model: Forecaster) -> None:
        daemon, config = self.daemon, self.daemon.config
        service = daemon.service
        windows = fresh_windows(service.windows, daemon.model, model, follow_cadence=config.slot_grace is None)
        service.swap(model, model_outputs(model, config.output_format, config.intervals), windows)
        daemon.model = model
        if daemon.store is not None:
            daemon.store.model = model  # the snapshot's fingerprint
            if windows is not None:
                with service.processing_lock:
                    service.delivery.snapshot(service.windows)
        daemon.metrics.reloads.inc()


def _named(model: Any) -> str:
    identity = model.identity
    return f"{identity['name']} version {identity['version']} (hash {identity['hash']})"


def check_replacement(served: Any, model: Any, levels: tuple[float, ...], *, shared: bool = False) -> None:
    """Refuse a bundle the running daemon cannot serve in place of ``served``.

    Raises:
        ForecasterError: other features, targets or horizon (a restart serves it), no interval
            table at one of the served ``levels``, or (``shared``: the windows live in the
            replicas' shared store, `forecaster.serve.shared_service`) other window settings.
    """
    old, new = served.spec, model.spec
    for what in ("features", "targets", "horizon"):
        if getattr(old, what) != getattr(new, what):
            raise ForecasterError(f"its {what} {getattr(new, what)} differ from the served {getattr(old, what)}; the "
                                  "message rules and the published series were set up for those: restart the daemon "
                                  "to serve it")
    if shared and window_changes(served, model):
        raise ForecasterError(f"its windows differ ({', '.join(window_changes(served, model))}) and they live in the "
                              "store shared by every replica: restart the replicas to serve it")
    table = getattr(model, "intervals_", None)
    for level in levels:
        if table is None or level_key(level) not in table.available:
            raise ForecasterError(f"it has no prediction interval at the served level {level_key(level)}")


def window_changes(served: Any, model: Any) -> list[str]:
    """What ``model`` changes in the windows of ``served``: ``"<setting> <old> -> <new>"`` each."""
    pairs = [("input_steps", served.spec.input_steps, model.spec.input_steps),
             ("cadence", served.freq_, model.freq_), ("max_gap", served.max_gap, model.max_gap)]
    return [f"{name} {a} -> {b}" for name, a, b in pairs if a != b]


def fresh_windows(windows: WindowRegistry, served: Any, model: Any, *, follow_cadence: bool) -> WindowRegistry | None:
    """None when ``windows`` fit ``model`` (same input length, cadence and gap rule as ``served``;
    the features are checked equal before); else an empty registry for it, with one log line
    saying why. ``follow_cadence``: the slot grace is one cadence step (no ``--slot-grace``)."""
    differ = window_changes(served, model)
    if not differ:
        return None
    log.warning("reload: the windows of %d sensor(s) are reset (the new bundle's %s); each sensor's next forecast "
                "follows its next %d readings", len(windows), ", ".join(differ), model.spec.input_steps)
    settings, step = windows.settings, int(step_of(model.freq_).value)
    grace = step if follow_cadence else settings["grace_ns"]
    return WindowRegistry(**{**settings, "length": model.spec.input_steps, "step_ns": step, "max_gap": model.max_gap,
                             "grace_ns": grace}, max_sensors=windows.max_sensors)
