"""Run a bundle's TFLite export on the LiteRT runtime (``ai-edge-litert``), without TensorFlow.

This is the gateway path: ``Forecaster.load(bundle, runtime="tflite")`` reads the bundle's
metadata and ``model.tflite`` and predicts with the LiteRT interpreter. When LiteRT is not
installed but TensorFlow is, TensorFlow's own interpreter is used.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from pipelines.errors import ForecasterError

TFLITE_FILE = "model.tflite"


def _interpreter_class() -> Any:
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            from forecaster.nn.tf_env import quiet_tensorflow

            quiet_tensorflow()
            import tensorflow as tf
        except ImportError:
            raise ForecasterError(
                "the tflite runtime needs `ai-edge-litert` (pip install ai-edge-litert) or TensorFlow"
            ) from None
        return tf.lite.Interpreter
    return Interpreter


def _interpreter(content: bytes, threads: int, xnnpack: bool) -> Any:
    """A LiteRT interpreter; ``xnnpack=False`` leaves out the default XNNPACK delegate."""
    cls = _interpreter_class()
    if xnnpack:
        return cls(model_content=content, num_threads=threads)
    try:
        from ai_edge_litert.interpreter import OpResolverType
    except ImportError:
        from tensorflow.lite.python.interpreter import OpResolverType
    return cls(model_content=content, num_threads=threads,
               experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)


class TFLitePredictor:
    """Windows in, forecasts out, through a TFLite flat buffer (batch size resized per call).

    With XNNPACK, the first use of each batch size is settled (`_resize`): measured on ai-edge-litert
    2.3.0, without it the calls after the first at a new largest batch size could return wrong
    forecasts (off by up to 4.8) for as long as that size was kept.

    Args:
        model_content: the ``.tflite`` bytes.
        threads: interpreter threads.
        xnnpack: run with LiteRT's default XNNPACK delegate (else the builtin kernels).
    """

    def __init__(self, model_content: bytes, *, threads: int = 2, xnnpack: bool = True) -> None:
        from forecaster.nn.tf_env import native_output_filtered

        with native_output_filtered():
            self._interpreter = _interpreter(model_content, threads, xnnpack)
            self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        shape = tuple(int(d) for d in self._input["shape_signature"])
        self.input_shape = shape[1:]
        self.output_shape = tuple(int(d) for d in self._output["shape_signature"])[1:]
        self.xnnpack = xnnpack
        self._batch = -1
        self._settled: set[int] = set()  # batch sizes already run once (XNNPACK's workspace fits them)

    @classmethod
    def from_bundle(cls, directory: str | Path, meta: dict, *, threads: int = 2) -> TFLitePredictor:
        """The predictor of a bundle's checked ``model.tflite`` (on the XNNPACK delegate)."""
        if TFLITE_FILE not in meta.get("files", {}):
            raise ForecasterError(
                f"{directory}: no {TFLITE_FILE} in this bundle; run `forecaster export --model {directory} --format tflite`"
            )
        return cls((Path(directory) / TFLITE_FILE).read_bytes(), threads=threads)

    def warmup(self, buckets: tuple[int, ...] = (1,)) -> None:
        """Allocate for one window (LiteRT needs no compilation)."""
        self(np.zeros((1, *self.input_shape), dtype="float32"))

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        """Forecasts for ``windows`` ``(n, steps, features)`` as float32 ``(n, horizon, targets)``."""
        windows = np.ascontiguousarray(windows, dtype="float32")
        if windows.ndim != 3 or windows.shape[1:] != self.input_shape:
            raise ValueError(f"windows must have shape (n, {self.input_shape}), got {windows.shape}")
        if len(windows) == 0:
            return np.zeros((0, *self.output_shape), dtype="float32")
        if len(windows) != self._batch:
            self._resize(len(windows))
        self._interpreter.set_tensor(self._input["index"], windows)
        self._interpreter.invoke()
        return self._interpreter.get_tensor(self._output["index"]).copy()

    def _resize(self, n: int) -> None:
        """Resize the interpreter to ``n`` windows; with XNNPACK, settle a size not run before.

        Measured (ai-edge-litert 2.3.0): the runs after the first at a size larger than any run
        before could give wrong values in the first XNNPACK partition (the `Combine` layer's
        ``reshape -> matmul -> reshape`` of the window) until the size changed. The partitions share
        one workspace; those after a run-time shape (``SHAPE`` -> ``RESHAPE``) are prepared only
        during the first run at a size, after the earlier ones were set up, and may grow (move) it:
        the likely cause. So the first run at a size is a throwaway one (the workspace grows to what
        the size needs; it never shrinks), then a resize away and back prepares every partition again.
        """
        interpreter, index = self._interpreter, self._input["index"]
        shape = [n, *self.input_shape]
        interpreter.resize_tensor_input(index, shape)
        interpreter.allocate_tensors()
        if self.xnnpack and n not in self._settled:
            interpreter.set_tensor(index, np.zeros(shape, dtype="float32"))
            interpreter.invoke()
            interpreter.resize_tensor_input(index, [n + 1, *self.input_shape])
            interpreter.allocate_tensors()
            interpreter.resize_tensor_input(index, shape)
            interpreter.allocate_tensors()
            self._settled.add(n)
        self._batch = n
