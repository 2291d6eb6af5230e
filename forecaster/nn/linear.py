"""The linear path every forecasting network can carry (DLinear/NLinear-style, issue 23).

The forecast is the sum of a linear map of the normalised window and the recurrent part,
trained jointly; the recurrent part then only has to learn what a straight line misses.
Three maps (``ModelParams.linear``):

- ``"window"``: every feature's whole window, flattened, to every target and horizon step
  (the ridge baseline's map: it sees covariates, e.g. the weather an outdoor sensor follows);
- ``"channel"``: each target from its own history, one ``(L, H)`` map per target (DLinear's
  individual head; targets must be features);
- ``"shared"``: each target from its own history, one map for all targets (NLinear's).

The weights start at zero, so training starts from the recurrent network alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from forecaster.nn.layers import LinearOverTime, TakeChannels, keras
from forecaster.params import LINEARS
from pipelines.errors import ForecasterError


def linear_path(normed: Any, *, mode: str, horizon: int, n_targets: int,
                target_index: Sequence[int] | None) -> Any:
    """The linear forecast ``(batch, horizon, n_targets)`` of the normalised window ``normed``
    ``(batch, L, F)``; ``target_index`` are the targets' feature positions (``None``: some
    target is not a feature, which only the ``"window"`` map allows)."""
    if mode == "window":
        x = keras.layers.Flatten(name="linear_flatten")(normed)
        x = keras.layers.Dense(horizon * n_targets, kernel_initializer="zeros", name="linear")(x)
        return keras.layers.Reshape((horizon, n_targets), name="linear_steps")(x)
    if mode not in LINEARS[2:]:
        raise ForecasterError(f"`linear` must be one of {LINEARS}. Received: linear={mode!r}")
    if target_index is None:
        raise ForecasterError(f"linear={mode!r} maps each target's own history, so every target must be a "
                              "feature; use linear='window' (or add the targets to `features`)")
    x = normed
    if list(target_index) != list(range(normed.shape[-1])):
        x = TakeChannels(target_index, name="linear_inputs")(normed)
    return LinearOverTime(horizon, shared=mode == "shared", name="linear")(x)


def with_linear(forecast: Any, normed: Any, *, mode: str, horizon: int, n_targets: int,
                target_index: Sequence[int] | None) -> Any:
    """``forecast`` plus the linear path (``forecast`` itself when ``mode`` is ``"none"``)."""
    if mode == "none":
        return forecast
    linear = linear_path(normed, mode=mode, horizon=horizon, n_targets=n_targets, target_index=target_index)
    return keras.layers.Add(name="plus_linear")([forecast, linear])
