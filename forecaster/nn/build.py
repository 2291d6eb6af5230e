"""One entry to every forecasting network: `build_network(spec, params)` picks the builder
(row-by-row `recurrent`, SegRNN-style `segment`, or a seed `ensemble` of them)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from forecaster.nn.ensemble import build_ensemble
from forecaster.nn.recurrent import build_model
from forecaster.nn.segment import build_segment_model
from forecaster.params import ModelParams
from pipelines.errors import ForecasterError
from pipelines.windows import WindowSpec


def build_network(spec: WindowSpec, params: ModelParams, *, unroll: bool = False, name: str | None = None) -> Any:
    """The Keras network ``params`` describe for windows of ``spec`` (plain or SegRNN-style,
    or a seed ensemble of them); ``unroll`` rebuilds it with unrolled recurrences (same
    weights fit) for TFLite export. With ``combine`` the network is wrapped in its baseline
    combination (`forecaster.nn.combine`; weights set after training)."""
    if params.combine != "none":
        from forecaster.nn.combine import wrap

        network = build_network(spec, replace(params, combine="none"), unroll=unroll, name=name)
        return wrap(network, horizon=spec.horizon, targets=len(spec.targets))
    if params.ensemble > 1:
        return build_ensemble(lambda member, member_name: build_network(spec, member, unroll=unroll, name=member_name),
                              params)
    name = name or "forecaster"
    in_features = [spec.features.index(t) for t in spec.targets] if set(spec.targets) <= set(spec.features) else None
    normalize = in_features is not None and params.norm != "none"
    if in_features is None and params.linear in ("channel", "shared"):
        missing = [t for t in spec.targets if t not in spec.features]
        raise ForecasterError(f"linear={params.linear!r} maps each target's own history, so every target must be a "
                              f"feature; {missing} are not (add them to `features`, or use linear='window')")
    if params.segment_model:
        independent = params.independent_channels(spec.features, spec.targets)
        if in_features is None and independent:
            missing = [t for t in spec.targets if t not in spec.features]
            raise ForecasterError(f"channel independence forecasts each input channel, so every target must be a "
                                  f"feature; {missing} are not (add them to the features, or leave it off: "
                                  f"--no-channel-independent, channel_independent=False)")
        return build_segment_model(
            input_steps=spec.input_steps, n_features=len(spec.features), horizon=spec.horizon,
            target_index=in_features or list(range(len(spec.targets))), cell=params.cell, layers=params.layers,
            units=params.units, dropout=params.dropout, recurrent_dropout=params.recurrent_dropout,
            norm=params.norm if normalize else "none", channel_independent=independent,
            segment=params.segment, decoder=params.decoder, linear=params.linear, unroll=unroll, name=name,
        )
    return build_model(
        input_steps=spec.input_steps, n_features=len(spec.features), horizon=spec.horizon,
        n_targets=len(spec.targets), cell=params.cell, layers=params.layers, units=params.units,
        dropout=params.dropout, recurrent_dropout=params.recurrent_dropout, conv=params.conv,
        residual_index=in_features if normalize else None, linear=params.linear, linear_index=in_features,
        unroll=unroll, name=name,
    )
