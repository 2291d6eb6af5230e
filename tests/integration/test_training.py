"""The training loop's stopping rules."""

from __future__ import annotations

import logging

import numpy as np


def test_time_budget_stops_after_the_epoch_that_exceeds_it_and_says_so(caplog):
    from forecaster.nn.recurrent import build_model
    from forecaster.nn.training import fit_network

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(64, 8, 1)).astype("float32"), rng.normal(size=(64, 2, 1)).astype("float32")
    network = build_model(input_steps=8, n_features=1, horizon=2, n_targets=1, cell="gru", layers=1, units=2)
    with caplog.at_level(logging.WARNING, logger="forecaster.nn.training"):
        history = fit_network(network, (X, y), (X, y), epochs=5, batch_size=32, learning_rate=1e-3, patience=5,
                              loss="mse", seed=0, verbose=0, time_budget=0.0)
    assert len(history["loss"]) == 1
    assert "stopped by the time budget" in caplog.text and "after 1 epoch" in caplog.text
