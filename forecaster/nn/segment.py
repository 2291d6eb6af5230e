"""Options of the best recurrent forecasters (Keras functional API, no Lambda layers).

`build_segment_model` adds, to the plain stacked LSTM/GRU of `forecaster.nn.recurrent.build_model`:

- **instance normalization** by the window's last value or its mean (subtracted from the
  inputs, added back to the forecast; RevIN-like without learned affine),
- **channel independence**: each input channel becomes its own sequence and one shared
  recurrent model runs over all of them (channels are folded into the batch),
- **segment-wise input** (SegRNN): the window is cut into segments of ``segment`` steps,
  each segment is embedded by a ``Dense(units, relu)``, and the RNN runs over segments,
- **parallel decoding** (SegRNN's PMF): the horizon is cut into segments; for each output
  segment the last recurrent layer takes one step from the encoder's final state with a
  learned position embedding (and a channel embedding) as input, and a dense layer turns
  that step's output into the segment's values; or a plain **dense head**.

LSTM and GRU work with every option. ``dropout`` acts before the head (as in SegRNN),
``recurrent_dropout`` inside the cells.
"""

from __future__ import annotations

from collections.abc import Sequence

from forecaster.nn.layers import (
    BatchToChannels,
    ChannelsToBatch,
    LastValues,
    MeanValues,
    RepeatRows,
    RowsToSegments,
    SegmentQueries,
    SubtractLast,
    SubtractMean,
    TakeChannels,
    keras,
)
from forecaster.nn.linear import with_linear

NORMS = ("none", "last", "mean")
DECODERS = ("dense", "parallel")


def build_segment_model(
    *,
    input_steps: int,
    n_features: int,
    horizon: int,
    target_index: Sequence[int],
    cell: str = "gru",
    layers: int = 1,
    units: int = 64,
    dropout: float = 0.0,
    recurrent_dropout: float = 0.0,
    norm: str = "last",
    channel_independent: bool = True,
    segment: int = 0,
    decoder: str = "dense",
    linear: str = "none",
    unroll: bool = False,
    name: str = "forecaster",
) -> keras.Model:
    """A recurrent forecaster with SegRNN-style options: ``(batch, L, F) -> (batch, H, T)``.

    Args:
        input_steps, n_features: the input window shape.
        horizon: steps to forecast.
        target_index: feature positions of the targets (targets must be features).
        cell: ``"lstm"`` or ``"gru"``.
        layers: stacked recurrent layers.
        units: recurrent units (also the segment embedding size ``d``).
        dropout: dropout before the head; recurrent_dropout: inside the cells.
        norm: instance normalization: ``"last"`` value, window ``"mean"`` or ``"none"``.
        channel_independent: one shared model over each channel (else all channels together).
        segment: segment length ``w`` (0: the RNN runs over single steps; a ``w`` longer
            than ``L`` is taken as ``L``: one segment). When ``L`` is not a multiple of ``w``,
            the oldest ``L mod w`` steps are dropped.
        decoder: ``"dense"`` (one dense layer for the whole horizon) or ``"parallel"``
            (SegRNN parallel decoding; needs ``segment > 0``; the horizon is rounded up to
            whole segments and cropped).
        linear: add a linear map of the normalised window to the forecast
            (`forecaster.nn.linear`: ``"none"``, ``"window"``, ``"channel"``, ``"shared"``).
        unroll: unroll the recurrences (for TFLite builtin-op export).

    Example:
        >>> m = build_segment_model(input_steps=24, n_features=3, horizon=8, target_index=[0, 2],
        ...                         units=4, segment=6, decoder="parallel")
        >>> m.output_shape
        (None, 8, 2)
    """
    from forecaster.params import ModelParams
    from pipelines.errors import ForecasterError

    if norm not in NORMS:
        raise ForecasterError(f"`norm` must be one of {NORMS}. Received: norm={norm!r}")
    ModelParams(cell=cell, layers=layers, units=units, dropout=dropout, recurrent_dropout=recurrent_dropout,
                norm=norm, channel_independent=channel_independent,
                segment=segment, decoder=decoder)
    target_index = [int(i) for i in target_index]
    segment = min(segment, input_steps)
    rnn_class = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}[cell]
    inputs = keras.Input(shape=(input_steps, n_features), name="window")
    x = {"last": SubtractLast, "mean": SubtractMean}.get(norm, None)
    x = normed = inputs if x is None else x(name=f"subtract_{norm}")(inputs)
    streams, width = (n_features, 1) if channel_independent else (1, n_features)
    outputs_per_stream = 1 if channel_independent else len(target_index)
    if channel_independent:
        x = ChannelsToBatch(name="channels_to_batch")(x)
    steps = input_steps
    if segment:
        drop = input_steps % segment
        if drop:
            x = keras.layers.Cropping1D((drop, 0), name="crop_oldest")(x)
        steps = input_steps // segment
        x = keras.layers.Reshape((steps, segment * width), name="segments")(x)
        x = keras.layers.Dense(units, activation="relu", name="segment_embedding")(x)
    rnns = [
        rnn_class(units, return_sequences=i < layers - 1, return_state=i == layers - 1,
                  recurrent_dropout=recurrent_dropout, unroll=unroll, name=f"{cell}_{i + 1}")
        for i in range(layers)
    ]
    for rnn in rnns[:-1]:
        x = rnn(x)
    last_output, *states = rnns[-1](x)
    if decoder == "parallel":
        n_out = -(-horizon // segment)
        queries = SegmentQueries(streams, n_out, units, name="segment_queries")(states[0])
        repeated = [RepeatRows(n_out, name=f"repeat_state_{i}")(s) for i, s in enumerate(states)]
        y, *_ = rnns[-1](queries, initial_state=repeated)
        if dropout:
            y = keras.layers.Dropout(dropout, name="head_dropout")(y)
        y = keras.layers.Dense(segment * outputs_per_stream, name="head")(y)
        y = RowsToSegments(n_out, name="join_segments")(y)
        y = keras.layers.Reshape((n_out * segment, outputs_per_stream), name="steps")(y)
        if n_out * segment != horizon:
            y = keras.layers.Cropping1D((0, n_out * segment - horizon), name="crop_horizon")(y)
    else:
        y = keras.layers.Dropout(dropout, name="head_dropout")(last_output) if dropout else last_output
        y = keras.layers.Dense(horizon * outputs_per_stream, name="head")(y)
        y = keras.layers.Reshape((horizon, outputs_per_stream), name="steps")(y)
    if channel_independent:
        y = BatchToChannels(n_features, name="batch_to_channels")(y)
        if target_index != list(range(n_features)):
            y = TakeChannels(target_index, name="targets")(y)
    y = with_linear(y, normed, mode=linear, horizon=horizon, n_targets=len(target_index), target_index=target_index)
    if norm != "none":
        level = (LastValues if norm == "last" else MeanValues)(target_index, name=f"{norm}_values")(inputs)
        y = keras.layers.Add(name="add_level")([y, level])
    else:
        y = keras.layers.Identity(name="forecast")(y)
    return keras.Model(inputs, y, name=name)


