"""The `forecaster` command: Click options and wiring only, no forecasting logic.

Owns the subcommands (`app` train/predict/export/parse, `backfill`, `evaluate`, `mqtt` serve/replay),
the TOML/environment configuration (`config`) and the process-wide effects that belong to a
program, not a library (logging set-up, TensorFlow thread limits, signal handlers).
"""

from forecaster.cli.app import main

__all__ = ["main"]
