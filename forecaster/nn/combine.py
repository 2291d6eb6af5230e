"""The network wrapped in its baseline combination (`forecaster.nn.layers.Combine`), issue 23.

``forecast = scale * network(window) + kernel . window + bias`` per target and horizon step,
the weights fixed after training (`forecaster.combine` fits them). The wrapped network is a
nested model, so a bundle, the compiled predict path, the stream and the TFLite export see
one Keras model like any other.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from forecaster.nn.layers import Combine, keras

LAYER = "combine"


def wrap(network: Any, *, horizon: int, targets: int) -> Any:
    """``network`` inside a combination that starts as the network alone (scale 1, no linear part)."""
    inputs = keras.Input(shape=network.input_shape[1:], name="window")
    outputs = Combine(horizon, targets, name=LAYER)([inputs, network(inputs)])
    return keras.Model(inputs, outputs, name="combined")


def is_combined(model: Any) -> bool:
    """True when ``model`` is a network wrapped by `wrap`."""
    return any(isinstance(layer, Combine) for layer in model.layers)


def network_of(model: Any) -> Any:
    """The network inside a combined model (``model`` itself when it is not combined)."""
    if not is_combined(model):
        return model
    return next(layer for layer in model.layers if isinstance(layer, keras.Model))


def set_weights(model: Any, scale: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> None:
    """Set the combination of a wrapped model: ``scale (H, T)``, ``kernel (L * F, H * T)``, ``bias (H * T)``."""
    model.get_layer(LAYER).set_weights([np.asarray(w, dtype="float32") for w in (scale, kernel, bias)])


def get_weights(model: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(scale, kernel, bias)`` of a combined model."""
    scale, kernel, bias = model.get_layer(LAYER).get_weights()
    return scale, kernel, bias


def network_share(model: Any) -> np.ndarray | None:
    """Per target, the network's mean weight in the combination over the horizon (0: the baselines
    alone, 1: the network alone); ``None`` when ``model`` is not combined."""
    if not is_combined(model):
        return None
    return get_weights(model)[0].mean(axis=0)
