"""The fast predict path: compiled functions on a few fixed batch sizes, warmed up at load.

Keras' ``model.predict`` costs about 100 ms per call on this class of machine whatever the
batch; a traced ``tf.function`` about 5 ms for one window, and the same compiled with XLA
(``jit_compile=True``) under 1 ms. XLA compiles once per input shape (0.5-1 s), so batches
are padded up to one of `BUCKETS` and each bucket is compiled once, at warm-up or first use.
XLA is used only when it agrees with the plain graph to 1e-5 on a probe batch.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import numpy as np

from forecaster.nn.tf_env import quiet_tensorflow

quiet_tensorflow()

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

log = logging.getLogger(__name__)


class _ExpectedTracing(logging.Filter):
    """Drop TensorFlow's retracing warning for our per-bucket functions: one trace per
    batch size is the design, not an accident."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Predictor.__init__" not in record.getMessage()


@contextlib.contextmanager
def _tracing_expected() -> Iterator[None]:
    """Hide the retracing warning while our own functions trace (scoped: no import-time change
    to TensorFlow's logger)."""
    quiet = _ExpectedTracing()
    tf.get_logger().addFilter(quiet)
    try:
        yield
    finally:
        tf.get_logger().removeFilter(quiet)

BUCKETS = (1, 4, 16, 64, 256, 1024)  # padded batch sizes; larger inputs go in chunks of the last
XLA_TOLERANCE = 1e-5


def bucket_for(n: int) -> int:
    """The smallest bucket that holds ``n`` windows (``n`` at most the largest bucket).

    Example:
        >>> [bucket_for(n) for n in (1, 2, 5, 1024)]
        [1, 4, 16, 1024]
    """
    return next(b for b in BUCKETS if b >= n)


class Predictor:
    """Call a Keras model on windows without `model.predict`'s per-call overhead.

    Args:
        model: a Keras model ``(batch, steps, features) -> (batch, horizon, targets)``.
        jit: try XLA (kept only if it matches the plain graph within 1e-5).

    Example:
        >>> from forecaster.nn.recurrent import build_model
        >>> m = build_model(input_steps=4, n_features=2, horizon=3, n_targets=1, units=2)
        >>> Predictor(m)(np.zeros((5, 4, 2))).shape
        (5, 3, 1)
    """

    def __init__(self, model: keras.Model, *, jit: bool = True) -> None:
        self.model = model
        _, steps, features = model.input_shape
        self.input_shape = (steps, features)
        self.output_shape = tuple(model.output_shape[1:])
        signature = [tf.TensorSpec((None, steps, features), tf.float32)]
        self._plain = tf.function(lambda x: model(x, training=False), input_signature=signature)
        # one traced function per bucket: each is traced and compiled exactly once
        self._xla = {
            size: tf.function(
                lambda x: model(x, training=False),
                input_signature=[tf.TensorSpec((size, steps, features), tf.float32)],
                jit_compile=True,
            )
            for size in BUCKETS
        }
        self._compiled: set[int] = set()
        self._concrete: dict[int | None, object] = {}
        self.jit = jit and self._xla_agrees()

    def _fn(self, batch: np.ndarray):
        """Run one padded batch through its concrete function.

        Calling the traced ``ConcreteFunction`` with a tensor skips `tf.function`'s
        per-call argument binding and conversion: measured here on one window after an
        idle pause (the daemon's case), 0.80 ms instead of 1.17 ms.
        """
        key = len(batch) if self.jit else None
        fn = self._concrete.get(key)
        if fn is None:
            with _tracing_expected():
                fn = self._concrete[key] = (self._xla[key] if self.jit else self._plain).get_concrete_function()
        return fn(tf.constant(batch))

    def _xla_agrees(self) -> bool:
        probe = np.random.default_rng(0).normal(size=(4, *self.input_shape)).astype("float32")
        try:
            with _tracing_expected():
                fast = self._xla[4](probe).numpy()
        except (tf.errors.OpError, ValueError, TypeError) as exc:  # an op XLA cannot compile
            log.info("XLA unavailable for this network (%s); using the plain graph", exc)
            return False
        self._compiled.add(4)
        with _tracing_expected():
            plain = self._plain(probe).numpy()
        diff = float(np.max(np.abs(fast - plain)))
        if diff > XLA_TOLERANCE:
            log.info("XLA differs from the plain graph by %.2g; using the plain graph", diff)
        return diff <= XLA_TOLERANCE

    def warmup(self, buckets: tuple[int, ...] = BUCKETS) -> None:
        """Compile the given batch sizes now, so that no forecast waits for a compile."""
        for size in buckets:
            if size not in self._compiled:
                self._fn(np.zeros((size, *self.input_shape), dtype="float32"))
                self._compiled.add(size)

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        """Forecasts for ``windows`` ``(n, steps, features)``, as float32 ``(n, horizon, targets)``."""
        windows = np.asarray(windows, dtype="float32")
        if windows.ndim != 3 or windows.shape[1:] != self.input_shape:
            raise ValueError(f"windows must have shape (n, {self.input_shape}), got {windows.shape}")
        out = np.empty((len(windows), *self.output_shape), dtype="float32")
        largest = BUCKETS[-1]
        for start in range(0, len(windows), largest):
            chunk = windows[start : start + largest]
            n = len(chunk)
            size = bucket_for(n) if self.jit else n
            if size != n:
                chunk = np.concatenate([chunk, np.zeros((size - n, *self.input_shape), dtype="float32")])
            out[start : start + n] = self._fn(chunk).numpy()[:n]
            self._compiled.add(size)
        return out
