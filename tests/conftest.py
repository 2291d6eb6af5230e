"""Shared fixtures: small real data, tiny trained models, and a quiet TensorFlow."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
from helpers import DATA, ETT_COLUMNS

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


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


def pytest_collection_modifyitems(items):
    """Every test under tests/integration is `slow` (real training, brokers or processes):
    ``pytest -m "not slow"`` is the fast lane (unit tests and doctests)."""
    for item in items:
        if "integration" in item.path.parts:
            item.add_marker(pytest.mark.slow)
