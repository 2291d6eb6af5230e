"""Every custom Keras layer of the project, in one registry module.

Each layer is registered as ``forecaster>ClassName`` (the key saved bundles name), has a
``get_config`` equal to its constructor arguments, and no ``Lambda`` (bundles load with
``safe_mode=True``). Importing this module is what lets `forecaster.nn.saving` load any bundle.
"""

from __future__ import annotations

from collections.abc import Sequence

from forecaster.nn.tf_env import quiet_tensorflow

quiet_tensorflow()

import keras  # noqa: E402


@keras.saving.register_keras_serializable(package="forecaster")
class LastValues(keras.layers.Layer):
    """The last time step of chosen input channels, shape ``(batch, 1, len(indices))``.

    Added to a direct multi-step head, it makes the network predict the change from the
    last observed value (a persistence baseline the network only has to improve on).
    """

    def __init__(self, indices: Sequence[int], **kwargs) -> None:  # kwargs: Keras' name/dtype
        super().__init__(**kwargs)
        self.indices = [int(i) for i in indices]

    def call(self, inputs):
        return keras.ops.take(inputs[:, -1:, :], self.indices, axis=2)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1, len(self.indices))

    def get_config(self) -> dict:
        return {**super().get_config(), "indices": self.indices}


@keras.saving.register_keras_serializable(package="forecaster")
class SubtractLast(keras.layers.Layer):
    """Each channel minus its value at the last time step (instance normalization by
    the last value): the network sees the shape of the window, not its level."""

    def call(self, inputs):
        return inputs - inputs[:, -1:, :]


@keras.saving.register_keras_serializable(package="forecaster")
class SubtractMean(keras.layers.Layer):
    """Each channel minus its mean over the window (instance normalization by the mean)."""

    def call(self, inputs):
        return inputs - keras.ops.mean(inputs, axis=1, keepdims=True)


@keras.saving.register_keras_serializable(package="forecaster")
class MeanValues(LastValues):
    """The window mean of chosen input channels, shape ``(batch, 1, len(indices))``."""

    def call(self, inputs):
        return keras.ops.take(keras.ops.mean(inputs, axis=1, keepdims=True), self.indices, axis=2)


@keras.saving.register_keras_serializable(package="forecaster")
class ChannelsToBatch(keras.layers.Layer):
    """``(batch, steps, channels) -> (batch * channels, steps, 1)``: one sequence per channel
    (row ``b * channels + c`` holds channel ``c`` of window ``b``)."""

    def call(self, inputs):
        steps = inputs.shape[1]
        return keras.ops.reshape(keras.ops.transpose(inputs, (0, 2, 1)), (-1, steps, 1))

    def compute_output_shape(self, input_shape):
        return (None, input_shape[1], 1)


@keras.saving.register_keras_serializable(package="forecaster")
class BatchToChannels(keras.layers.Layer):
    """Inverse of `ChannelsToBatch`: ``(batch * channels, steps, 1) -> (batch, steps, channels)``."""

    def __init__(self, channels: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.channels = int(channels)

    def call(self, inputs):
        steps = inputs.shape[1]
        return keras.ops.transpose(keras.ops.reshape(inputs, (-1, self.channels, steps)), (0, 2, 1))

    def compute_output_shape(self, input_shape):
        return (None, input_shape[1], self.channels)

    def get_config(self) -> dict:
        return {**super().get_config(), "channels": self.channels}


@keras.saving.register_keras_serializable(package="forecaster")
class RepeatRows(keras.layers.Layer):
    """Repeat every row of the batch ``times`` times (row ``r`` -> rows ``r*times .. r*times+times-1``)."""

    def __init__(self, times: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.times = int(times)

    def call(self, inputs):
        # a float broadcast and a reshape by constants: keras.ops.repeat multiplies int32
        # shapes at run time, which makes oneDNN log an error line on CPUs without AVX-512
        ones = keras.ops.ones((1, self.times, 1), dtype=inputs.dtype)
        return keras.ops.reshape(inputs[:, None, :] * ones, (-1, inputs.shape[-1]))

    def compute_output_shape(self, input_shape):
        return (None, *input_shape[1:])

    def get_config(self) -> dict:
        return {**super().get_config(), "times": self.times}


@keras.saving.register_keras_serializable(package="forecaster")
class SegmentQueries(keras.layers.Layer):
    """SegRNN decoder inputs: for each sequence ``r = b * streams + s`` and output segment ``k``,
    the concatenation of a learned position embedding ``pos[k]`` and stream embedding ``ch[s]``.

    Called on the encoder state ``(batch * streams, units)`` (only its batch size is used);
    returns ``(batch * streams * segments, 1, units)`` in the row order of `RepeatRows`.
    """

    def __init__(self, streams: int, segments: int, units: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.streams, self.segments, self.units = int(streams), int(segments), int(units)

    def build(self, input_shape):
        pos_dim = self.units - self.units // 2
        # unit variance, as SegRNN initializes them (Keras' "random_normal" has stddev 0.05,
        # which leaves the decoder nearly blind to the position at the start of training)
        init = keras.initializers.RandomNormal(stddev=1.0)
        self.pos = self.add_weight(shape=(self.segments, pos_dim), initializer=init, name="pos")
        self.ch = self.add_weight(shape=(self.streams, self.units // 2), initializer=init, name="ch")

    def call(self, state):
        ops = keras.ops
        table = ops.concatenate(
            [
                ops.broadcast_to(self.pos[None, :, :], (self.streams, self.segments, self.pos.shape[-1])),
                ops.broadcast_to(self.ch[:, None, :], (self.streams, self.segments, self.ch.shape[-1])),
            ],
            axis=-1,
        )  # (streams, segments, units)
        # (batch, streams, 1, 1) zeros broadcast against the table (no run-time int32 shape
        # arithmetic, which oneDNN logs an error line about on CPUs without AVX-512)
        zeros = ops.reshape(ops.zeros_like(state[:, :1]), (-1, self.streams, 1, 1))
        return ops.reshape(zeros + table[None], (-1, 1, self.units))

    def compute_output_shape(self, input_shape):
        return (None, 1, self.units)

    def get_config(self) -> dict:
        return {**super().get_config(), "streams": self.streams, "segments": self.segments, "units": self.units}


@keras.saving.register_keras_serializable(package="forecaster")
class RowsToSegments(keras.layers.Layer):
    """``(batch * segments, width) -> (batch, segments * width)``: decoded segments side by side."""

    def __init__(self, segments: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.segments = int(segments)

    def call(self, inputs):
        return keras.ops.reshape(inputs, (-1, self.segments * inputs.shape[-1]))

    def compute_output_shape(self, input_shape):
        return (None, self.segments * input_shape[-1])

    def get_config(self) -> dict:
        return {**super().get_config(), "segments": self.segments}


@keras.saving.register_keras_serializable(package="forecaster")
class TakeChannels(keras.layers.Layer):
    """Chosen channels of the last axis: ``(batch, steps, C) -> (batch, steps, len(indices))``."""

    def __init__(self, indices: Sequence[int], **kwargs) -> None:
        super().__init__(**kwargs)
        self.indices = [int(i) for i in indices]

    def call(self, inputs):
        return keras.ops.take(inputs, self.indices, axis=2)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], len(self.indices))

    def get_config(self) -> dict:
        return {**super().get_config(), "indices": self.indices}


@keras.saving.register_keras_serializable(package="forecaster")
class FillMasked(keras.layers.Layer):
    """``[window, correction] -> values + correction * (1 - observed)``.

    ``window`` is the network input (pre-filled values, then the observed mask, one channel
    each per column). Observed points pass through unchanged, so the loss over a whole
    window is the loss on the points that were missing.
    """

    def call(self, inputs):
        window, correction = inputs
        n = correction.shape[-1]
        return window[..., :n] + correction * (1.0 - window[..., n:])

    def compute_output_shape(self, input_shapes):
        return input_shapes[1]


@keras.saving.register_keras_serializable(package="forecaster")
class LinearOverTime(keras.layers.Layer):
    """A linear map over the time axis, channel by channel: ``(batch, L, C) -> (batch, horizon, C)``,
    ``y[:, h, c] = sum_l x[:, l, c] * kernel[c, l, h] + bias[c, h]`` (DLinear/NLinear's head).

    With ``shared`` one ``(L, horizon)`` map serves every channel; else each channel has its own.
    Weights start at zero, so a network that adds this path starts as its other part alone.
    """

    def __init__(self, horizon: int, shared: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.horizon, self.shared = int(horizon), bool(shared)

    def build(self, input_shape):
        maps = 1 if self.shared else int(input_shape[-1])
        self.kernel = self.add_weight(shape=(maps, int(input_shape[1]), self.horizon), initializer="zeros",
                                      name="kernel")
        self.bias = self.add_weight(shape=(maps, 1, self.horizon), initializer="zeros", name="bias")

    def call(self, inputs):
        ops = keras.ops
        if self.shared:  # (batch, C, L) @ (L, H): one matrix product for every channel
            out = ops.matmul(ops.transpose(inputs, (0, 2, 1)), self.kernel[0]) + self.bias[0]
            return ops.transpose(out, (0, 2, 1))
        # (C, batch, L) @ (C, L, H): a batched product, one map per channel
        out = ops.matmul(ops.transpose(inputs, (2, 0, 1)), self.kernel) + self.bias
        return ops.transpose(out, (1, 2, 0))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.horizon, input_shape[-1])

    def get_config(self) -> dict:
        return {**super().get_config(), "horizon": self.horizon, "shared": self.shared}


@keras.saving.register_keras_serializable(package="forecaster")
class Combine(keras.layers.Layer):
    """``[window, forecast] -> scale * forecast + linear(window)``, with fixed weights.

    ``window`` is ``(batch, L, F)``, ``forecast`` ``(batch, horizon, T)``; ``scale`` is one
    factor per step and target, the linear part one affine map of the flattened window
    (``kernel (L * F, horizon * T)``, ``bias (horizon * T)``): the weighted baselines of
    `forecaster.combine`. The weights are not trained; they start as the forecast alone.
    """

    def __init__(self, horizon: int, targets: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.horizon, self.targets = int(horizon), int(targets)

    def build(self, input_shapes):
        window = input_shapes[0]
        width, out = int(window[1]) * int(window[2]), self.horizon * self.targets
        self.scale = self.add_weight(shape=(self.horizon, self.targets), initializer="ones", trainable=False,
                                     name="scale")
        self.kernel = self.add_weight(shape=(width, out), initializer="zeros", trainable=False, name="kernel")
        self.bias = self.add_weight(shape=(out,), initializer="zeros", trainable=False, name="bias")

    def call(self, inputs):
        window, forecast = inputs
        flat = keras.ops.reshape(window, (-1, window.shape[1] * window.shape[2]))
        linear = keras.ops.reshape(keras.ops.matmul(flat, self.kernel) + self.bias, (-1, self.horizon, self.targets))
        return forecast * self.scale + linear

    def compute_output_shape(self, input_shapes):
        return input_shapes[1]

    def get_config(self) -> dict:
        return {**super().get_config(), "horizon": self.horizon, "targets": self.targets}
