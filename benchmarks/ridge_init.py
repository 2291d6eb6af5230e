"""An experiment of benchmarks/skill.py: start the linear path (``linear="window"``) at the
ridge solution of the training windows instead of zero, then train jointly as usual.

It wraps `forecaster.nn.training.fit_network` for the run (the library's training is not
changed): before training, a network with a ``linear`` layer gets the closed-form ridge fit
of its normalised training windows (last-value normalisation, as the network's).
"""

from __future__ import annotations

import contextlib

import numpy as np


def ridge_weights(X: np.ndarray, y: np.ndarray, target_index: list[int], alpha: float = 1.0) -> list[np.ndarray]:
    """``[kernel, bias]`` of the window map: ridge of ``y - last`` on the flattened ``X - last``."""
    from pipelines.baselines import ridge

    last = X[:, -1:, :]
    x = (X - last).reshape(len(X), -1)
    target = (y - last[:, :, target_index]).reshape(len(y), -1)
    coef, intercept = ridge(x.astype("float64"), target.astype("float64"), alpha)
    return [coef.astype("float32"), intercept.astype("float32")]


@contextlib.contextmanager
def ridge_start(target_index: list[int]):
    """Within the block, networks with a window-mode ``linear`` layer start from the ridge fit."""
    import forecaster.nn.training as training

    original = training.fit_network

    def fit(network, train, validation, **kwargs):
        names = [layer.name for layer in network.layers]
        if "linear" in names and "linear_flatten" in names and isinstance(train, tuple):
            network.get_layer("linear").set_weights(ridge_weights(*train, target_index))
        return original(network, train, validation, **kwargs)

    training.fit_network = fit
    try:
        yield
    finally:
        training.fit_network = original
