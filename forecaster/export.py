"""Edge export: a bundle's network as a TFLite flat buffer with builtin ops only.

Keras 3 LSTM/GRU layers convert to TensorList ops that need Flex (which LiteRT cannot run),
so the network is rebuilt with ``unroll=True`` (same weights), which converts to builtin ops
and keeps a dynamic batch size. The export is checked against Keras before it is written.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np

from forecaster.tf_env import native_output_filtered, quiet_tensorflow

quiet_tensorflow()

import tensorflow as tf  # noqa: E402

from forecaster.bundle import read_meta, write_meta  # noqa: E402
from forecaster.edge import TFLITE_FILE, TFLitePredictor  # noqa: E402
from forecaster.model import Forecaster, build_network  # noqa: E402
from pipelines.errors import ForecasterError  # noqa: E402

TOLERANCE = 1e-4


def convert_tflite(model: Forecaster) -> bytes:
    """The forecaster's network as TFLite bytes (builtin ops only)."""
    unrolled = build_network(model.spec, model.params, unroll=True)
    saved = model.model_.get_weights()
    if [w.shape for w in unrolled.get_weights()] != [w.shape for w in saved]:
        raise ForecasterError(f"{model.name}: the saved network is not the one its settings describe (e.g. a "
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


def export_tflite(directory: str | Path, *, probe: np.ndarray | None = None) -> tuple[Path, float]:
    """Write ``model.tflite`` into a forecast bundle, verified against Keras.

    Args:
        directory: the bundle.
        probe: scaled windows to compare on (default: 64 random standard-normal windows).

    Returns:
        The file written and the largest absolute difference from Keras on the probe.

    Raises:
        ForecasterError: conversion failed or the export differs from Keras by more than 1e-4.
    """
    directory = Path(directory)
    model = Forecaster.load(directory)
    content = convert_tflite(model)
    if probe is None:
        shape = (64, model.spec.input_steps, len(model.spec.features))
        probe = np.random.default_rng(0).normal(size=shape).astype("float32")
    expected = model.model_.predict(probe, verbose=0)
    got = TFLitePredictor(content)(probe)
    diff = float(np.max(np.abs(got - expected)))
    if not diff <= TOLERANCE:  # also catches NaN
        raise ForecasterError(f"TFLite export differs from Keras by {diff:.3g} (> {TOLERANCE}); not written")
    path = directory / TFLITE_FILE
    path.write_bytes(content)
    meta = read_meta(directory)
    meta.pop("files", None)
    meta["exports"] = {**meta.get("exports", {}), "tflite": {"file": TFLITE_FILE, "max_abs_diff": diff}}
    write_meta(directory, meta)
    return path, diff
