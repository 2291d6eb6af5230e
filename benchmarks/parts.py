"""Benchmark-only assembly: a `Forecaster` from parts trained outside `Forecaster.fit`, and
blends of saved networks (`ett.py --blend`). Not library API: the library only ever makes a
fitted forecaster by `fit` or `forecaster.load`."""

from __future__ import annotations

from typing import Any

from forecaster.model import Forecaster
from forecaster.params import ModelParams
from pipelines.scaling import Scaler
from pipelines.split import SplitSpec
from pipelines.windows import WindowSpec


def from_parts(
    *, spec: WindowSpec, params: ModelParams, network: Any, scaler: Scaler | None, freq: str,
    max_gap: int = 3, time_col: str | None = "date", sensor_col: str | None = None,
    split: SplitSpec | None = None, name: str = "forecaster",
    history: dict | None = None, metrics: dict | None = None,
) -> Forecaster:
    """A fitted forecaster from a trained network and its scaler (e.g. trained by a benchmark
    on its own windows), ready to `predict` and `save`."""
    model = Forecaster(spec=spec, params=params, freq=freq, max_gap=max_gap, split=split,
                       time_col=time_col, sensor_col=sensor_col, name=name)
    model.freq_, model.time_col_, model.sensor_col_ = freq, time_col, sensor_col
    model.scaler_, model.split_, model.model_ = scaler, model.split, network
    model.history_, model.metrics_ = history or {}, metrics or {}
    return model


def members_of(network: Any) -> list[Any]:
    """The member networks of an ensemble (`forecaster.nn.ensemble.combine`; ``[network]``
    for a single network)."""
    members = [layer for layer in network.layers if layer.name.startswith("member_")]
    return members or [network]


def blend(networks: list[Any]) -> Any:
    """One ensemble of every member of ``networks`` (single networks or ensembles, possibly of
    different designs, same input and output shapes), each member weighing the same; members
    are renamed ``member_1 .. member_N`` in order. `forecaster export` refuses the result
    (its settings do not describe it)."""
    from forecaster.nn.ensemble import combine

    members = [member for network in networks for member in members_of(network)]
    for k, member in enumerate(members):
        member.name = f"member_{k + 1}"
    return combine(members)
