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


def test_start_index_batches_are_the_materialised_windows_in_the_same_shuffled_order():
    """`series_dataset` (start rows, one gather a batch) gives exactly the batches `dataset` gave
    from the cut windows, epoch after epoch with the same seed; X keeps only the features."""
    from forecaster.nn.training import dataset, series_dataset
    from pipelines.fleet import stack_series
    from pipelines.windows import WindowSpec, cut

    rng = np.random.default_rng(1)
    spec = WindowSpec(input_steps=5, horizon=2, features=["a", "b"], targets=["c"])  # c: a target, not a feature
    parts = [(rng.normal(size=(n, 3)), np.repeat([0, 1], [n // 2, n - n // 2]), np.zeros(n, dtype="int64"))
             for n in (40, 23)]
    fleet = stack_series(iter(parts), length=spec.window_length)
    X, y = cut(fleet.values, fleet.of(0), spec)
    common = dict(batch_size=8, shuffle=True, seed=3)
    old = dataset(X, y, **common)
    new = series_dataset(fleet.values, fleet.of(0), input_steps=5, horizon=2, target_index=[2], feature_index=[0, 1],
                         **common)
    for _epoch in range(2):
        for (xo, yo), (xn, yn) in zip(old, new, strict=True):
            assert xn.shape[2] == 2 and np.array_equal(xo.numpy(), xn.numpy()) and np.array_equal(yo.numpy(), yn.numpy())
