"""Keras network -> TFLite flat buffer with builtin ops only.

Keras 3 LSTM/GRU layers convert to TensorList ops that need Flex (which LiteRT cannot run),
so the network is rebuilt with ``unroll=True`` (same weights), which converts to builtin ops
and keeps a dynamic batch size.
"""

from __future__ import annotations

import contextlib
import io
from typing import Any

from forecaster.nn.tf_env import native_output_filtered, quiet_tensorflow

quiet_tensorflow()

import tensorflow as tf  # noqa: E402

from forecaster.nn.build import build_network  # noqa: E402
from forecaster.params import ModelParams  # noqa: E402
from pipelines.errors import ForecasterError  # noqa: E402
from pipelines.windows import WindowSpec  # noqa: E402


def convert_tflite(network: Any, spec: WindowSpec, params: ModelParams, name: str = "forecaster") -> bytes:
    """``network`` (built from ``spec`` and ``params``) as TFLite bytes (builtin ops only)."""
    unrolled = build_network(spec, params, unroll=True)
    saved = network.get_weights()
    if [w.shape for w in unrolled.get_weights()] != [w.shape for w in saved]:
        raise ForecasterError(f"{name}: the saved network is not the one its settings describe (e.g. a "
                              "benchmark --blend of several designs), so it cannot be rebuilt for TFLite")
    unrolled.set_weights(saved)
    # from_keras_model, not from_concrete_functions: the latter gave wrong numbers here (TF 2.21)
    converter = tf.lite.TFLiteConverter.from_keras_model(unrolled)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    try:
        with native_output_filtered(keep_on_success=False, fds=(1, 2)), contextlib.redirect_stdout(io.StringIO()):
            return converter.convert()
    except Exception as exc:  # the converter raises several internal types
        raise ForecasterError(f"TFLite conversion failed: {str(exc).splitlines()[0]}") from None
