"""Quiet native start-up noise: TensorFlow's import notices, TFLite's converter chatter.

tensorflow-cpu 2.21 writes two oneDNN notices to file descriptor 2 while it is imported,
before its logging is set up, so ``TF_CPP_MIN_LOG_LEVEL`` cannot hide them (measured here;
``TF_ENABLE_ONEDNN_OPTS=0`` hides them but halves batch inference speed). We import
TensorFlow with descriptor 2 captured, drop those known notices, and pass anything else on.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator

from pipelines.errors import ForecasterError

_NOISE = (
    "All log messages before absl::InitializeLog()",
    "oneDNN custom operations are on",
    "Created TensorFlow Lite XNNPACK delegate",
)


@contextlib.contextmanager
def native_output_filtered(*, keep_on_success: bool = True, fds: tuple[int, ...] = (2,)) -> Iterator[None]:
    """Capture what native code writes to ``fds``; drop known noise, pass the rest to stderr.

    Args:
        keep_on_success: pass unknown lines on even when the block succeeds (on an
            exception everything captured is passed on, so no diagnostic is lost).
        fds: the file descriptors to capture (1 = stdout, 2 = stderr).
    """
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in fds}
    with tempfile.TemporaryFile(mode="w+b") as capture:
        for fd in fds:
            os.dup2(capture.fileno(), fd)
        failed = True
        try:
            yield
            failed = False
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            for fd, copy in saved.items():
                os.dup2(copy, fd)
                os.close(copy)
            capture.seek(0)
            lines = capture.read().decode(errors="replace").splitlines(keepends=True)
            if failed:
                kept = lines
            elif keep_on_success:
                kept = [line for line in lines if not any(noise in line for noise in _NOISE)]
            else:
                kept = []
            if kept:
                sys.stderr.write("".join(kept))


def quiet_tensorflow() -> None:
    """Import TensorFlow once, without its start-up notices on stderr.

    TensorFlow reads its C++ log level (``TF_CPP_MIN_LOG_LEVEL``) once, while it is imported:
    unless the program set one, the import runs with 2 (warnings and errors only) and the
    variable is removed again afterwards, so the library leaves the environment as it found it
    and a program's own setting always wins.
    """
    if "tensorflow" in sys.modules:
        return
    with _environment_default("TF_CPP_MIN_LOG_LEVEL", "2"), native_output_filtered():
        import tensorflow  # noqa: F401


@contextlib.contextmanager
def _environment_default(name: str, value: str) -> Iterator[None]:
    """``name=value`` in the environment for the block, unless it is set already."""
    if name in os.environ:
        yield
        return
    os.environ[name] = value
    try:
        yield
    finally:
        os.environ.pop(name, None)


def limit_threads(threads: int) -> None:
    """Cap TensorFlow's intra- and inter-op thread pools (call before the first TF op).

    On a small gateway one inference thread leaves the other cores to the broker and the
    MQTT network thread; measured here on 2 busy cores, 1 thread was also faster per window
    (batch 16: 2.65 vs 3.06 ms).
    """
    quiet_tensorflow()
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)


def require_tensorflow() -> None:
    """The keras runtime on an install without TensorFlow (the edge install) is a clear error, not a traceback."""
    import importlib.util

    try:
        missing = importlib.util.find_spec("tensorflow") is None
    except ValueError:  # sys.modules["tensorflow"] is None: its import is blocked
        missing = True
    if missing:
        raise ForecasterError("TensorFlow is not installed here: use the tflite runtime (--runtime tflite, "
                              "runtime=\"tflite\") with a bundle exported by `forecaster export`")
