"""Keras network builders (functional API): recurrent forecasters and their parts.

Unidirectional only for forecasting; `Bidirectional` belongs to backfill networks, and
`is_bidirectional` lets loaders refuse such a model for live use.
"""

from __future__ import annotations

from collections.abc import Sequence

from forecaster.nn.tf_env import quiet_tensorflow

quiet_tensorflow()

import keras  # noqa: E402

from forecaster.nn.layers import LastValues, SubtractLast  # noqa: E402
from forecaster.nn.linear import with_linear  # noqa: E402
from forecaster.params import ModelParams  # noqa: E402


def build_model(
    *,
    input_steps: int,
    n_features: int,
    horizon: int,
    n_targets: int,
    cell: str = "lstm",
    layers: int = 1,
    units: int = 64,
    dropout: float = 0.0,
    recurrent_dropout: float = 0.0,
    conv: bool = False,
    residual_index: Sequence[int] | None = None,
    linear: str = "none",
    linear_index: Sequence[int] | None = None,
    unroll: bool = False,
    name: str = "forecaster",
) -> keras.Model:
    """A recurrent forecaster: ``(batch, input_steps, n_features) -> (batch, horizon, n_targets)``.

    Args:
        input_steps, n_features: the input window shape.
        horizon, n_targets: the output shape (a direct multi-step head, no recursion).
        cell: ``"lstm"`` or ``"gru"``.
        layers: stacked recurrent layers (all but the last return sequences).
        units: units per recurrent layer.
        dropout, recurrent_dropout: Keras dropout rates in [0, 1).
        conv: put a causal Conv1D + MaxPooling1D front before the recurrent layers.
        residual_index: feature positions of the targets; when given, the inputs are
            taken relative to their last value and the head predicts the change from each
            target's last observed value (RevIN-like last-value normalization).
        linear: add a linear map of the (normalised) window to the forecast
            (`forecaster.nn.linear`: ``"none"``, ``"window"``, ``"channel"``, ``"shared"``).
        linear_index: the targets' feature positions, for the ``"channel"`` and ``"shared"`` maps.
        unroll: unroll the recurrence (for TFLite builtin-op export).

    Example:
        >>> m = build_model(input_steps=8, n_features=3, horizon=4, n_targets=1, units=4)
        >>> m.output_shape
        (None, 4, 1)
    """
    ModelParams(cell=cell, layers=layers, units=units, dropout=dropout, recurrent_dropout=recurrent_dropout)
    rnn = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}[cell]
    inputs = keras.Input(shape=(input_steps, n_features), name="window")
    x = normed = inputs if residual_index is None else SubtractLast(name="subtract_last")(inputs)
    if conv:
        x = keras.layers.Conv1D(units, 3, padding="causal", activation="relu", name="conv")(x)
        if input_steps >= 4:
            x = keras.layers.MaxPooling1D(2, name="pool")(x)
    for i in range(layers):
        x = rnn(
            units,
            return_sequences=i < layers - 1,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            unroll=unroll,
            name=f"{cell}_{i + 1}",
        )(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="head_dropout")(x)
    x = keras.layers.Dense(horizon * n_targets, name="head")(x)
    outputs = keras.layers.Reshape((horizon, n_targets), name="forecast")(x)
    outputs = with_linear(outputs, normed, mode=linear, horizon=horizon, n_targets=n_targets,
                          target_index=linear_index)
    if residual_index is not None:
        last = LastValues(residual_index, name="last_values")(inputs)
        outputs = keras.layers.Add(name="from_last_value")([outputs, last])
    return keras.Model(inputs, outputs, name=name)


def is_bidirectional(model: keras.Model) -> bool:
    """True when any layer (nested included) is a `Bidirectional` wrapper."""
    stack = list(model.layers)
    while stack:
        layer = stack.pop()
        if isinstance(layer, keras.layers.Bidirectional):
            return True
        stack.extend(getattr(layer, "layers", []))
    return False
