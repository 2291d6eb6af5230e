"""Shared test helpers: paths, column names, small CSVs and synthetic sensor frames."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
ETT_COLUMNS = ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]
STREAM_EQUALS_BATCH = {"rtol": 1e-6, "atol": 1e-5}
"""Stream = batch tolerance: the daemon runs a few windows at a time through Keras's XLA-compiled fast
path, `forecaster predict` all of them through the plain one, both in float32, so the same forecast may
differ in the last places (1.2e-5 on an OT of 34.57 seen: 3 units in the last place)."""


def write_csv(path: Path, text: str) -> Path:
    """Write a CSV from a dedented string."""
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def synthetic_frame(n: int = 400, sensors: tuple[str, ...] = ("a",), freq: str = "1h", seed: int = 0) -> pd.DataFrame:
    """Smooth daily waves with noise, one block of rows per sensor (long format)."""
    rng = np.random.default_rng(seed)
    parts = []
    for k, sensor in enumerate(sensors):
        t = np.arange(n)
        ts = pd.date_range("2026-01-01", periods=n, freq=freq, tz="UTC")
        temp = 20 + 5 * np.sin(2 * np.pi * t / 24 + k) + rng.normal(0, 0.2, n)
        load = 3 + np.cos(2 * np.pi * t / 24) + rng.normal(0, 0.1, n)
        parts.append(pd.DataFrame({"sensor": sensor, "ts": ts, "load": load, "temp": temp}))
    return pd.concat(parts, ignore_index=True)


def wait_until(predicate, timeout: float = 30.0, poll: float = 0.1) -> bool:
    """Poll ``predicate`` until it holds (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(poll)
    return False
