"""A fitted `Forecaster` from its checked ``bundle.json``: spec, scaler, split, intervals and
identity (name, version, content hash), with the loaded network beside it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from forecaster.bundle import content_hash
from forecaster.params import ModelParams
from pipelines.calendar import widen
from pipelines.conformal import Conformal
from pipelines.errors import ForecasterError
from pipelines.scaling import Scaler
from pipelines.sensor_scaling import SensorScalers
from pipelines.split import SplitSpec
from pipelines.windows import WindowSpec


def restore(cls: type, directory: str | Path, meta: dict[str, Any], network: Any) -> Any:
    """The fitted ``cls`` (a `Forecaster`) a checked ``bundle.json`` describes, with its loaded
    network (``None`` for the tflite runtime); ``directory`` names the bundle in messages.

    Raises:
        ForecasterError: a spec, scaler or network shape that does not fit the others.
    """
    spec = _spec(directory, meta)
    params = ModelParams.from_dict(meta["params"])
    _check_shapes(directory, widen(spec, params.calendar_parts), network)
    try:
        scaler = Scaler.from_dict(meta["scaler"])
    except (KeyError, TypeError, ValueError, ForecasterError) as exc:
        raise ForecasterError(f"{directory}: bundle.json has no valid scaler ({exc})") from None
    if scaler.columns != spec.columns:
        raise ForecasterError(f"{directory}: scaler columns {scaler.columns} do not match {spec.columns}")
    split = SplitSpec.from_dict(meta["split"]) if "split" in meta else None
    self = cls(spec=spec, params=params, freq=meta["freq"],
               max_gap=meta["max_gap"], split=split, time_col=meta["time_col"], sensor_col=meta["sensor_col"],
               name=meta.get("name", "forecaster"))
    self.freq_, self.time_col_, self.sensor_col_ = meta["freq"], meta["time_col"], meta["sensor_col"]
    self.scaler_, self.split_, self._predictor = scaler, self.split, None
    self.sensor_scalers_ = _sensor_scalers(directory, meta, params, scaler)
    if network is not None:
        self.model_ = network
    self.history_, self.metrics_ = meta.get("history", {}), meta.get("metrics", {})
    table = meta.get("intervals")
    self.intervals_ = None if table is None else Conformal.from_dict(table, spec=spec, source=directory)
    self.intervals = tuple(float(k) for k in self.intervals_.available) if self.intervals_ else ()
    self.version_, self.parent_, self.refit_ = int(meta.get("version", 1)), meta.get("parent"), meta.get("refit")
    self.hash_ = content_hash(directory)
    return self


def _sensor_scalers(directory: str | Path, meta: dict[str, Any], params: ModelParams,
                    scaler: Scaler) -> SensorScalers | None:
    """The per-sensor statistics of a ``scale="per-sensor"`` bundle (None when it scales globally)."""
    if params.scale != "per-sensor":
        return None
    if "sensor_scalers" not in meta:
        raise ForecasterError(f"{directory}: bundle.json scales per sensor but has no per-sensor statistics")
    try:
        return SensorScalers.from_dict(scaler, meta["sensor_scalers"])
    except ForecasterError as exc:
        raise ForecasterError(f"{directory}: bundle.json: {exc}") from None


def _spec(directory: str | Path, meta: dict[str, Any]) -> WindowSpec:
    try:
        return WindowSpec.from_dict(meta["spec"])
    except (KeyError, TypeError) as exc:
        raise ForecasterError(f"{directory}: bundle.json has no valid window spec ({exc})") from None


def _check_shapes(directory: str | Path, spec: WindowSpec, network: Any) -> None:
    """The network reads windows of ``spec`` (the network's: features and calendar columns) and forecasts
    its horizon and targets."""
    if network is None:
        return
    expected = (None, spec.input_steps, len(spec.features))
    if tuple(network.input_shape) != expected:
        raise ForecasterError(f"{directory}: network input {network.input_shape} does not match the spec {expected}")
    produced = (None, spec.horizon, len(spec.targets))
    if tuple(network.output_shape) != produced:
        raise ForecasterError(f"{directory}: network output {network.output_shape} does not match the spec's "
                              f"horizon and targets {produced}")
