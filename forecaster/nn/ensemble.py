"""Seed ensembles: K networks of one design, trained with seeds ``seed .. seed + K - 1``, averaged.

Averaging independently trained networks lowers the variance part of the error (each seed
lands in a different minimum); the result is one Keras model (the members as nested models
and an ``Average``), so bundles, the compiled predict path and TFLite export treat it like
any other network.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from forecaster.params import ModelParams


def combine(members: list[Any], name: str = "ensemble") -> Any:
    """One model whose forecast is the mean of the members' forecasts (same input and output shapes)."""
    from forecaster.nn.recurrent import keras

    inputs = keras.Input(shape=members[0].input_shape[1:], name="window")
    outputs = keras.layers.Average(name="mean_of_members")([member(inputs) for member in members])
    return keras.Model(inputs, outputs, name=name)


def member_params(params: ModelParams, index: int) -> ModelParams:
    """The settings of member ``index`` (0-based): one network, seed ``params.seed + index``."""
    return replace(params, ensemble=1, seed=params.seed + index)


def build_ensemble(build_member: Callable[[ModelParams, str], Any], params: ModelParams) -> Any:
    """The untrained ensemble ``params`` describe; ``build_member(member params, name)`` builds one network."""
    return combine([build_member(member_params(params, k), f"member_{k + 1}") for k in range(params.ensemble)])


def train_ensemble(
    build: Callable[[ModelParams, str | None], Any],
    params: ModelParams,
    fit: Callable[[Any, ModelParams], dict[str, list[float]]],
) -> tuple[Any, dict[str, list[float]]]:
    """Build and train ``params.ensemble`` networks one after the other; returns the network to
    use (the single member, or their average) and the training history.

    ``build(member params, name)`` builds one untrained network (name ``None`` for a single one);
    ``fit(network, member params)`` trains one network and returns its per-epoch history.
    For an ensemble the history lists the members' epochs one after another, and
    ``member_epochs`` says how many epochs each member trained.
    """
    from forecaster.nn.training import set_seed

    members, histories = [], []
    for k in range(params.ensemble):
        member = member_params(params, k)
        set_seed(member.seed)
        network = build(member, None if params.ensemble == 1 else f"member_{k + 1}")
        histories.append(fit(network, member))
        members.append(network)
    if params.ensemble == 1:
        return members[0], histories[0]
    history: dict[str, list[float]] = {"member_epochs": [float(len(h.get("loss", []))) for h in histories]}
    for h in histories:
        for key, values in h.items():
            history.setdefault(key, []).extend(values)
    return combine(members), history
