"""Edge export: a bundle's network as a TFLite flat buffer, checked against Keras before it is
written into the bundle (the conversion itself is `forecaster.nn.tflite`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from forecaster.bundle import read_meta, write_meta
from forecaster.model import Forecaster
from pipelines.errors import ForecasterError

TOLERANCE = 1e-4


def convert_tflite(model: Forecaster) -> bytes:
    """The forecaster's network as TFLite bytes (builtin ops only)."""
    from forecaster.nn.tflite import convert_tflite as convert

    return convert(model.model_, model.network_spec, model.params, model.name)


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
        shape = (64, model.spec.input_steps, len(model.network_spec.features))
        probe = np.random.default_rng(0).normal(size=shape).astype("float32")
    expected = model.model_.predict(probe, verbose=0)
    from forecaster.nn.litert import TFLITE_FILE, TFLitePredictor

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
