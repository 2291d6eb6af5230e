"""The backfill network (bidirectional LSTMs) and its training loop on synthetic gaps.

Offline only: a `Bidirectional` layer reads the window backwards too, so the network needs
readings *after* a gap. `forecaster.nn.recurrent.is_bidirectional` finds it, and the forecasting
loaders refuse it.
"""

from __future__ import annotations

import math

import numpy as np

from forecaster.nn.tf_env import quiet_tensorflow

quiet_tensorflow()

import keras  # noqa: E402

from forecaster.nn.layers import FillMasked  # noqa: E402
from forecaster.nn.training import standard_callbacks  # noqa: E402
from pipelines.gaps import BackfillSpec  # noqa: E402
from pipelines.masking import network_input, synthetic_gaps  # noqa: E402


def build_backfill_model(
    *,
    window: int,
    n_columns: int,
    layers: int = 2,
    units: int = 64,
    dropout: float = 0.0,
    name: str = "backfill",
) -> keras.Model:
    """A bidirectional LSTM gap filler: ``(batch, window, 2 * n_columns) -> (batch, window, n_columns)``.

    Args:
        window: slots per window.
        n_columns: value columns (the input has a pre-filled value and a mask channel per column).
        layers: stacked ``Bidirectional(LSTM)`` layers, each returning the whole sequence.
        units: units per direction.
        dropout: dropout on the recurrent layers' inputs, in [0, 1).

    Example:
        >>> m = build_backfill_model(window=12, n_columns=3, layers=1, units=4)
        >>> m.input_shape, m.output_shape
        ((None, 12, 6), (None, 12, 3))
    """
    inputs = keras.Input(shape=(window, 2 * n_columns), name="window")
    x = inputs
    for i in range(layers):
        x = keras.layers.Bidirectional(
            keras.layers.LSTM(units, return_sequences=True, dropout=dropout), name=f"bilstm_{i + 1}"
        )(x)
    correction = keras.layers.Dense(n_columns, name="correction")(x)
    outputs = FillMasked(name="fill_masked")([inputs, correction])
    return keras.Model(inputs, outputs, name=name)


class GapBatches(keras.utils.PyDataset):
    """Complete scaled windows with fresh synthetic gaps every epoch (seeded, reproducible).

    Example:
        >>> spec = BackfillSpec(window=8, max_fill=2, min_context=2, features=["a"])
        >>> x, y = GapBatches(np.zeros((5, 8, 1)), spec, batch_size=4, seed=0)[0]   # y: values minus level
        >>> x.shape, y.shape
        ((4, 8, 2), (4, 8, 1))
    """

    def __init__(self, windows: np.ndarray, spec: BackfillSpec, *, batch_size: int, seed: int) -> None:
        super().__init__()
        self.windows = np.asarray(windows, dtype="float64")
        self.spec, self.batch_size, self.seed = spec, batch_size, seed
        self.epoch = 0
        self._order = np.random.default_rng([seed, 0]).permutation(len(self.windows))

    def __len__(self) -> int:
        return math.ceil(len(self.windows) / self.batch_size)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        rows = self._order[index * self.batch_size : (index + 1) * self.batch_size]
        values = self.windows[rows]
        rng = np.random.default_rng([self.seed, self.epoch, index])
        observed = synthetic_gaps(rng, len(rows), values.shape[2], self.spec)
        x, level = network_input(values, observed)
        return x, (values - level).astype("float32")

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self._order = np.random.default_rng([self.seed, self.epoch]).permutation(len(self.windows))


def fit_backfill_network(
    model: keras.Model,
    train: GapBatches,
    validation: tuple[np.ndarray, np.ndarray] | None,
    *,
    epochs: int,
    learning_rate: float,
    patience: int,
    loss: str,
    seed: int,
    verbose: int,
) -> dict[str, list[float]]:
    """Train on gap batches, early stopping on the validation windows' loss; returns the history."""
    keras.utils.set_random_seed(seed)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss)
    has_val = validation is not None and len(validation[0]) > 0
    monitor = "val_loss" if has_val else "loss"
    callbacks = standard_callbacks(monitor, patience)
    history = model.fit(
        train,
        validation_data=validation if has_val else None,
        validation_batch_size=1024,
        epochs=epochs,
        callbacks=callbacks,
        verbose=verbose,
    )
    return {k: [float(v) for v in values] for k, values in history.history.items()}
