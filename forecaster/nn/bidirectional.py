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
from pipelines.windows import gather  # noqa: E402


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
    """Scaled windows cut a batch at a time from start rows into a series, with synthetic gaps
    (seeded, reproducible).

    Training (``held_out=None``): a new order and fresh gaps every epoch. Held-out windows
    (``held_out=1`` validation, ``2`` test): the order of ``starts`` and one fixed draw of
    gaps per batch, the same every epoch.

    Example:
        >>> spec = BackfillSpec(window=8, max_fill=2, min_context=2, features=["a"])
        >>> x, y = GapBatches(np.zeros((12, 1)), np.arange(5), spec, batch_size=4, seed=0)[0]   # y: values minus level
        >>> x.shape, y.shape
        ((4, 8, 2), (4, 8, 1))
    """

    def __init__(self, values: np.ndarray, starts: np.ndarray, spec: BackfillSpec, *, batch_size: int, seed: int,
                 held_out: int | None = None) -> None:
        super().__init__()
        self.values, self.starts = np.asarray(values), np.asarray(starts, dtype="int64")
        self.spec, self.batch_size, self.seed, self.held_out = spec, batch_size, seed, held_out
        self.epoch = 0
        self._order = self._ordering()

    def _ordering(self) -> np.ndarray:
        if self.held_out is not None:
            return np.arange(len(self.starts))
        return np.random.default_rng([self.seed, self.epoch]).permutation(len(self.starts))

    def __len__(self) -> int:
        return math.ceil(len(self.starts) / self.batch_size)

    def windows(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Batch ``index``: its scaled windows (float64) and their observed masks."""
        rows = self._order[index * self.batch_size : (index + 1) * self.batch_size]
        values = gather(self.values, self.starts[rows], self.spec.window).astype("float64")
        key = [self.seed, self.epoch, index] if self.held_out is None else [self.seed, self.held_out, index, 1]
        observed = synthetic_gaps(np.random.default_rng(key), len(rows), values.shape[2], self.spec)
        return values, observed

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        values, observed = self.windows(index)
        x, level = network_input(values, observed)
        return x, (values - level).astype("float32")

    def on_epoch_end(self) -> None:
        if self.held_out is None:
            self.epoch += 1
            self._order = self._ordering()


def fit_backfill_network(
    model: keras.Model,
    train: GapBatches,
    validation: GapBatches | None,
    *,
    epochs: int,
    learning_rate: float,
    patience: int,
    loss: str,
    seed: int,
    verbose: int,
) -> dict[str, list[float]]:
    """Train on gap batches, early stopping on the validation batches' loss; returns the history."""
    keras.utils.set_random_seed(seed)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss)
    has_val = validation is not None and len(validation) > 0
    monitor = "val_loss" if has_val else "loss"
    callbacks = standard_callbacks(monitor, patience)
    history = model.fit(
        train,
        validation_data=validation if has_val else None,
        epochs=epochs,
        callbacks=callbacks,
        verbose=verbose,
    )
    return {k: [float(v) for v in values] for k, values in history.history.items()}
