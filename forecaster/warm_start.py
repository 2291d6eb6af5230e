"""Training that continues: a warm start from a parent bundle, and the refit on every window.

- **Warm start** (``forecaster train --init-from BUNDLE``, ``Forecaster.fit(frame, init_from=...)``):
  the parent's network (weights included) is trained further on new data, with the usual split
  and early stopping. The spec, the network's design and the cadence must be the parent's
  (`Parent.check` names every difference in one line); the training options (epochs, learning
  rate, patience, loss, batch size, seed) may differ. The parent's scaler is kept unless
  ``refit_scaler``. The child records its parent (path, content hash, version) and its
  version is the parent's + 1 (a model trained from scratch is version 1).
- **Refit on all** (``--refit-on-all``): early stopping on the validation windows chooses the
  number of epochs (each member's best epoch); the test metrics and the interval table come from
  that network (out of sample); then the deployed network is trained again from the same start
  (the same seed, or the parent's weights) on train + validation + test windows for exactly that
  many epochs, so it has seen the newest data. Its test metrics are then in sample
  (``refit.metrics_in_sample`` in ``bundle.json``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from forecaster.bundle import content_hash, load_bundle, read_meta
from forecaster.params import ModelParams
from pipelines.errors import ForecasterError
from pipelines.scaling import Scaler
from pipelines.sensor_scaling import SensorScalers
from pipelines.windows import WindowSpec

log = logging.getLogger(__name__)

TRAINING_OPTIONS = ("loss", "epochs", "batch_size", "learning_rate", "lr_decay", "patience", "seed")
"""The `ModelParams` a warm start may change: how the network is trained, not what it is."""
DESIGN_OPTIONS = tuple(f.name for f in fields(ModelParams) if f.name not in TRAINING_OPTIONS)
"""The `ModelParams` a warm start takes from its parent (they make the network)."""
SPEC_FIELDS = ("input_steps", "horizon", "features", "targets")
REFIT_NOTE = ("`metrics` are those of the network chosen on the validation windows, trained on the train split "
              "only (out of sample); the deployed network was then trained on the train, validation and test "
              "windows for the chosen epochs, so its test metrics (`metrics_in_sample`) are NOT out of sample. "
              "The intervals were calibrated on the chosen network's validation errors (out of sample for it); the "
              "deployed network has seen those windows, so nothing left can calibrate it: expect about the nominal "
              "coverage, without a guarantee.")


@dataclass(frozen=True)
class Parent:
    """A checked forecast bundle to continue from: its ``bundle.json`` and content hash."""

    path: Path
    meta: dict
    hash: str

    @classmethod
    def read(cls, directory: str | Path) -> Parent:
        """Check the bundle (kind, schema, checksums; no TensorFlow) and read it."""
        meta = read_meta(directory, expect="forecast")
        return cls(Path(directory), meta, content_hash(directory))

    @property
    def spec(self) -> WindowSpec:
        return WindowSpec.from_dict(self.meta["spec"])

    @property
    def params(self) -> ModelParams:
        return ModelParams.from_dict(self.meta["params"])

    @property
    def version(self) -> int:
        return int(self.meta.get("version", 1))

    def differences(self, spec: WindowSpec, params: ModelParams, freq: str | None = None) -> list[str]:
        """What differs from the parent, as ``"<name> <here> here, <parent's> in the parent"``."""
        mine, theirs = spec.to_dict(), self.meta["spec"]
        pairs = [(name, mine[name], theirs[name]) for name in SPEC_FIELDS]
        ours, parents = params.to_dict(), self.params.to_dict()
        # automatic channel independence (None) is compared as what it builds for these columns
        ours["channel_independent"] = params.independent_channels(spec.features, spec.targets)
        parents["channel_independent"] = self.params.independent_channels(self.spec.features, self.spec.targets)
        pairs += [(name, ours.get(name, 1), parents.get(name, 1)) for name in DESIGN_OPTIONS]
        if freq is not None:
            pairs.append(("cadence", freq, self.meta["freq"]))
        return [f"{name} {_shown(a)} here, {_shown(b)} in the parent" for name, a, b in pairs if a != b]

    def check(self, spec: WindowSpec, params: ModelParams, freq: str | None = None) -> None:
        """Refuse a warm start whose spec, network design or cadence is not the parent's.

        Raises:
            ForecasterError: one line naming every difference.
        """
        differ = self.differences(spec, params, freq)
        if differ:
            raise ForecasterError(f"cannot warm-start from {self.path}: {'; '.join(differ)} (a warm start continues the "
                                  "parent's network: leave these options out to take the parent's, or train from "
                                  "scratch)")

    def scaler(self) -> Scaler:
        return Scaler.from_dict(self.meta["scaler"])

    def sensor_scalers(self, global_scaler: Scaler) -> SensorScalers:
        """The parent's per-sensor statistics (none when it scaled globally)."""
        return SensorScalers.from_dict(global_scaler, self.meta.get("sensor_scalers", {}))

    def network(self) -> Any:
        """A fresh copy of the parent's network, weights included."""
        return load_bundle(self.path, expect="forecast")[0]

    def record(self) -> dict[str, Any]:
        """What the child's ``bundle.json`` says of its parent."""
        return {"path": str(self.path.resolve()), "hash": self.hash, "version": self.version}


def _shown(value: Any) -> str:
    return ",".join(value) if isinstance(value, list) else str(value)


def fit_networks(
    spec: WindowSpec, params: ModelParams, fleet: Any, *, verbose: int = 0, parent: Parent | None = None,
    epochs: list[int] | None = None, worker: Any = None,
) -> tuple[Any, dict[str, list[float]]]:
    """Build (or take the parent's) network(s) and train them on the windows of ``fleet``
    (`pipelines.fleet.FleetSeries`): early stopping on the validation windows, or with
    ``epochs`` (one per ensemble member) exactly that many epochs on every window and no
    validation; ``worker``: as one worker of a cluster (`forecaster.nn.distributed.Worker`).
    Returns the network and its training history (`forecaster.nn.ensemble.train_ensemble`)."""
    from forecaster.nn.build import build_network
    from forecaster.nn.combine import network_of
    from forecaster.nn.ensemble import train_ensemble
    from forecaster.nn.training import fleet_fitter

    start = None if parent is None else network_of(parent.network())  # trained without its combination
    counts = iter(epochs or ())
    fitter = fleet_fitter(spec, fleet, verbose=verbose) if worker is None else worker.fitter(spec, fleet, verbose=verbose)

    def build(p: ModelParams, name: str | None) -> Any:
        if start is None:
            return build_network(spec, replace(p, combine="none"), name=name)
        return start if name is None else start.get_layer(name)  # an ensemble's members are named layers

    def fit_member(network: Any, p: ModelParams) -> dict[str, list[float]]:
        fixed = next(counts, None)
        return fitter(network, p) if fixed is None else fitter(network, p, fixed_epochs=fixed)

    return train_ensemble(build, params, fit_member)


def best_epochs(history: dict[str, list[float]]) -> list[int]:
    """The epoch (1-based) of the lowest validation loss of each ensemble member.

    Example:
        >>> best_epochs({"val_loss": [3.0, 1.0, 2.0, 5.0, 4.0], "member_epochs": [3.0, 2.0]})
        [2, 2]
    """
    val = history.get("val_loss")
    if not val:
        raise ForecasterError("--refit-on-all chooses the number of epochs on the validation windows, and there are "
                              "none: give a validation split (--val, --val-end)")
    bests, start = [], 0
    for n in (int(e) for e in history.get("member_epochs", [len(val)])):
        bests.append(int(np.argmin(val[start:start + n])) + 1)
        start += n
    return bests


def refit_on_all(estimator: Any, fleet: Any, *, verbose: int = 0, parent: Parent | None = None) -> None:
    """Train ``estimator``'s deployed network again on every window of ``fleet`` for the epochs
    early stopping chose; ``estimator.refit_`` says what that means for its metrics."""
    from forecaster.combine import combined
    from forecaster.heldout import metrics_on_test
    from pipelines.split import TEST, TRAIN, VALIDATION

    chosen = best_epochs(estimator.history_)
    windows = sum(fleet.count(label) for label in (TRAIN, VALIDATION, TEST))
    log.info("refit on all %d windows for %s epoch(s), the best on validation", windows, "+".join(map(str, chosen)))
    network, history = fit_networks(estimator.network_spec, estimator.params, fleet, verbose=verbose, parent=parent,
                                    epochs=chosen)
    estimator.model_, estimator._predictor = network, None
    estimator.model_ = combined(estimator, fleet)  # weights chosen again, on windows the network has now seen
    estimator.refit_ = {
        "on": "train+validation+test", "windows": int(windows), "epochs": chosen, "loss": history.get("loss", []),
        "metrics_in_sample": metrics_on_test(estimator, fleet), "note": REFIT_NOTE,
    }


def lineage_meta(estimator: Any) -> dict[str, Any]:
    """The version, parent and refit record of a fitted forecaster for ``bundle.json``."""
    extra: dict[str, Any] = {"version": getattr(estimator, "version_", 1)}
    for key in ("parent", "refit"):
        value = getattr(estimator, key + "_", None)
        if value is not None:
            extra[key] = value
    return extra
