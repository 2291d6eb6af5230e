"""The `forecaster` command: Click options and wiring only, no forecasting logic.

Owns the subcommands (`app` train/predict/export/parse, `backfill`, `evaluate`, `mqtt` serve/replay),
the TOML/environment configuration (`config`) and the process-wide effects that belong to a
program, not a library (TensorFlow's log level, logging set-up, thread limits, signal handlers).
"""

from __future__ import annotations

import os


def main(argv: list[str] | None = None) -> int:
    """The console script and ``python -m forecaster``: set the process-wide defaults a program
    owns (TensorFlow's C++ log level, the Keras backend), then run the command line."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    from forecaster.cli.app import main as run

    return run(argv)


__all__ = ["main"]
