"""The fast predict path: one traced function with a fixed input signature, warmed up at load."""

from __future__ import annotations

import numpy as np

from forecaster.tf_env import quiet_tensorflow

quiet_tensorflow()

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

CHUNK = 1024  # windows per call: bounded memory, near-peak throughput on a CPU


class Predictor:
    """Call a Keras model on windows without `model.predict`'s per-call overhead.

    Args:
        model: a Keras model ``(batch, steps, features) -> (batch, horizon, targets)``.

    Example:
        >>> from forecaster.networks import build_model
        >>> m = build_model(input_steps=4, n_features=2, horizon=3, n_targets=1, units=2)
        >>> Predictor(m)(np.zeros((5, 4, 2))).shape
        (5, 3, 1)
    """

    def __init__(self, model: keras.Model) -> None:
        self.model = model
        _, steps, features = model.input_shape
        signature = [tf.TensorSpec((None, steps, features), tf.float32)]
        self._fn = tf.function(lambda x: model(x, training=False), input_signature=signature)
        self._input_shape = (steps, features)
        self(np.zeros((1, steps, features), dtype="float32"))  # trace now, not on first use

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        """Forecasts for ``windows`` ``(n, steps, features)``, as float32 ``(n, horizon, targets)``."""
        windows = np.asarray(windows, dtype="float32")
        if windows.shape[1:] != self._input_shape:
            raise ValueError(f"windows must have shape (n, {self._input_shape}), got {windows.shape}")
        parts = [self._fn(windows[i : i + CHUNK]).numpy() for i in range(0, len(windows), CHUNK)]
        if not parts:
            return np.zeros((0, *self.model.output_shape[1:]), dtype="float32")
        return np.concatenate(parts)
