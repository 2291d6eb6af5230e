"""Shared fixtures: small real data, tiny trained models, and a quiet TensorFlow."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
ETT_COLUMNS = ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]


def write_csv(path: Path, text: str) -> Path:
    """Write a CSV from a dedented string."""
    import textwrap

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


@pytest.fixture(scope="session")
def ett_small() -> pd.DataFrame:
    """The first 1,200 hours of ETTh1 (a real series, wide format)."""
    from pipelines import read_csv

    return read_csv(DATA / "ETTh1.csv").iloc[:1200]


@pytest.fixture(scope="session")
def tiny_model(ett_small):
    """A tiny LSTM trained for two epochs on ETTh1 (input 24, horizon 6, target OT)."""
    import forecaster
    from pipelines import WindowSpec

    spec = WindowSpec(input_steps=24, horizon=6, features=ETT_COLUMNS, targets=["OT"])
    return forecaster.train(ett_small, spec, units=8, epochs=2, seed=1)


@pytest.fixture(scope="session")
def tiny_bundle(tiny_model, tmp_path_factory) -> Path:
    """`tiny_model` saved as a bundle directory."""
    return tiny_model.save(tmp_path_factory.mktemp("bundle") / "tiny")


@pytest.fixture
def broker(tmp_path):
    """A Mosquitto of the test's own (free port, tmp dir), killed at the end; `.restart()` keeps the port."""
    from mqtt_broker import Broker

    b = Broker(tmp_path / "mosquitto").start()
    yield b
    b.kill()
