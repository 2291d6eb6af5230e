"""Quiet TensorFlow start-up: call `quiet_tensorflow()` before the first Keras import.

tensorflow-cpu 2.21 writes two oneDNN notices to file descriptor 2 while it is imported,
before its logging is set up, so ``TF_CPP_MIN_LOG_LEVEL`` cannot hide them (measured here;
``TF_ENABLE_ONEDNN_OPTS=0`` hides them but halves batch inference speed). We import
TensorFlow with descriptor 2 captured, drop those known notices, and pass anything else on.
"""

from __future__ import annotations

import os
import sys
import tempfile

_NOISE = ("All log messages before absl::InitializeLog()", "oneDNN custom operations are on")


def quiet_tensorflow() -> None:
    """Import TensorFlow once, without its start-up notices on stderr."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as capture:
        os.dup2(capture.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            kept = [
                line for line in capture.read().decode(errors="replace").splitlines(keepends=True)
                if not any(noise in line for noise in _NOISE)
            ]
            if kept:
                sys.stderr.write("".join(kept))
