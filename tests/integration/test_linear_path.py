"""The linear path (issue 23) is exactly a linear model of the normalised window: with the
recurrent part zeroed, the network equals a least-squares fit in closed form on the same windows."""

from __future__ import annotations

import numpy as np
import pytest

from forecaster.nn.build import build_network
from forecaster.nn.training import fit_network, set_seed
from forecaster.params import ModelParams
from pipelines.baselines import ridge
from pipelines.windows import WindowSpec

SPEC = WindowSpec(input_steps=8, horizon=3, features=["a", "b", "c"], targets=["c", "a"])
TARGETS = [SPEC.features.index(t) for t in SPEC.targets]
FAMILIES = {
    "lstm-stacked": {"cell": "lstm", "layers": 2, "segment": 0},
    "gru-conv-front": {"cell": "gru", "conv": True},
    "gru-segment": {"cell": "gru", "segment": 4},
    "gru-segment-mean-independent": {"cell": "gru", "segment": 4, "norm": "mean", "channel_independent": True},
    "lstm-segment-no-norm": {"cell": "lstm", "segment": 4, "norm": "none", "decoder": "dense"},
}


def windows(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Windows of three coupled AR(1) channels with a daily-like wave: ``X (n, 8, 3)``, ``y (n, 3, 2)``."""
    rng = np.random.default_rng(seed)
    rows = np.zeros((n + SPEC.window_length, 3))
    for t in range(1, len(rows)):
        rows[t] = 0.8 * rows[t - 1] + 0.1 * rows[t - 1, ::-1] + rng.normal(0, 0.3, 3) + 0.2 * np.sin(t / 3)
    starts = np.arange(n)
    X = np.stack([rows[s:s + SPEC.input_steps] for s in starts])
    y = np.stack([rows[s + SPEC.input_steps:s + SPEC.window_length][:, TARGETS] for s in starts])
    return X.astype("float32"), y.astype("float32")


def level(X: np.ndarray, norm: str) -> np.ndarray:
    """The per-window level the network subtracts (and adds back): last value, mean or none."""
    if norm == "none":
        return np.zeros_like(X[:, :1, :])
    return X[:, -1:, :] if norm == "last" else X.mean(axis=1, keepdims=True)


def closed_form(X: np.ndarray, y: np.ndarray, norm: str, mode: str) -> tuple[list[np.ndarray], np.ndarray]:
    """Least squares (with intercept) of the normalised targets on the normalised window, as the
    linear layer's weights, and its forecasts in the network's units."""
    lv = level(X.astype("float64"), norm)
    x, target = X - lv, y - lv[:, :, TARGETS]
    n, L, _ = x.shape
    H, T = y.shape[1:]
    if mode == "window":
        coef, intercept = ridge(x.reshape(n, -1), target.reshape(n, -1), 0.0)
        fit = (x.reshape(n, -1) @ coef + intercept).reshape(n, H, T)
        return [coef, intercept], fit + lv[:, :, TARGETS]
    own = x[:, :, TARGETS]  # (n, L, T): each target's own history
    if mode == "shared":
        coef, intercept = ridge(own.transpose(0, 2, 1).reshape(-1, L), target.transpose(0, 2, 1).reshape(-1, H), 0.0)
        kernel, bias = coef[None], intercept[None, None]
    else:
        pairs = [ridge(own[:, :, t], target[:, :, t], 0.0) for t in range(T)]
        kernel, bias = np.stack([c for c, _ in pairs]), np.stack([b for _, b in pairs])[:, None, :]
    fit = np.einsum("nlt,tlh->nht", own, np.broadcast_to(kernel, (T, L, H))) + np.moveaxis(bias[:, 0, :], 0, 1)
    return [kernel, bias], fit + lv[:, :, TARGETS]


def zero_recurrent_head(network) -> None:
    """Zero the recurrent part's output layer: its share of the forecast is then exactly 0."""
    head = network.get_layer("head")
    head.set_weights([np.zeros_like(w) for w in head.get_weights()])


@pytest.mark.parametrize("mode", ["window", "channel", "shared"])
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_zeroed_recurrent_part_leaves_the_closed_form_linear_model(family, mode):
    params = ModelParams(units=4, linear=mode, combine="none", **FAMILIES[family])
    X, y = windows()
    network = build_network(SPEC, params)
    zero_recurrent_head(network)
    weights, expected = closed_form(X, y, params.norm, mode)
    network.get_layer("linear").set_weights([w.astype("float32") for w in weights])
    got = network.predict(X, verbose=0)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4)
    # the linear part moves the forecast well away from the level alone, so the check has teeth
    assert np.abs(expected - level(X, params.norm)[:, :, TARGETS]).mean() > 0.05


@pytest.mark.parametrize("mode", ["window", "shared"])
def test_training_only_the_linear_part_approaches_least_squares(mode):
    """Gradients reach the linear path as built: trained alone (recurrent part zeroed and frozen)
    on MSE, it lands on the closed-form least-squares forecasts, up to where Adam's float32 loss
    stops improving (~2e-3 here; the exact 1e-4 check is the closed-form test above)."""
    set_seed(0)
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 8, 3)).astype("float32")  # well-conditioned windows: Adam converges in seconds
    y = np.einsum("nlf,lfht->nht", X, rng.normal(0, 0.3, (8, 3, 3, 2))) + rng.normal(0, 0.1, (200, 3, 2))
    params = ModelParams(units=4, linear=mode, segment=4, combine="none")
    network = build_network(SPEC, params)
    zero_recurrent_head(network)
    for layer in network.layers:
        layer.trainable = layer.name == "linear"
    fit_network(network, (X, y.astype("float32")), None, epochs=2000, batch_size=len(X), learning_rate=0.05,
                patience=30, loss="mse", seed=0, verbose=0)
    _, expected = closed_form(X, y, params.norm, mode)
    untrained = np.abs(X[:, -1:, TARGETS] - expected).max()
    assert np.abs(network.predict(X, verbose=0) - expected).max() < min(5e-3, untrained / 100)


def test_channel_maps_need_the_targets_among_the_features():
    from pipelines.errors import ForecasterError

    spec = WindowSpec(input_steps=8, horizon=3, features=["a", "b"], targets=["c"])
    with pytest.raises(ForecasterError, match="linear='window'"):
        build_network(spec, ModelParams(units=4, linear="channel"))
    assert build_network(spec, ModelParams(units=4, linear="window")).output_shape == (None, 3, 1)
