"""Training loop: windows through `tf.data` into `model.fit` with Keras callbacks."""

from __future__ import annotations

import numpy as np

from forecaster.tf_env import quiet_tensorflow

quiet_tensorflow()

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow (weights, dropout, shuffling) for a reproducible run."""
    keras.utils.set_random_seed(seed)


def standard_callbacks(monitor: str, patience: int) -> list[keras.callbacks.Callback]:
    """Early stopping with the best weights restored, learning rate halved on plateaus, stop on NaN."""
    return [
        keras.callbacks.EarlyStopping(monitor=monitor, patience=patience, restore_best_weights=True),
        keras.callbacks.ReduceLROnPlateau(monitor=monitor, factor=0.5, patience=max(1, patience // 2)),
        keras.callbacks.TerminateOnNaN(),
    ]


def dataset(X: np.ndarray, y: np.ndarray, *, batch_size: int, shuffle: bool, seed: int) -> tf.data.Dataset:
    """Windows as a batched, prefetched (and optionally shuffled) `tf.data.Dataset`."""
    data = tf.data.Dataset.from_tensor_slices((X.astype("float32"), y.astype("float32")))
    if shuffle:
        data = data.shuffle(len(X), seed=seed, reshuffle_each_iteration=True)
    return data.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def fit_network(
    model: keras.Model,
    train: tuple[np.ndarray, np.ndarray],
    validation: tuple[np.ndarray, np.ndarray] | None,
    *,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    patience: int,
    loss: str,
    seed: int,
    verbose: int,
) -> dict[str, list[float]]:
    """Compile and train ``model`` on scaled windows; returns the per-epoch history.

    Early stopping restores the best weights (on validation loss when there is a
    validation set, else on training loss); the learning rate halves on plateaus.
    """
    keras.utils.set_random_seed(seed)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss, metrics=["mae"])
    has_val = validation is not None and len(validation[0]) > 0
    callbacks = standard_callbacks("val_loss" if has_val else "loss", patience)
    history = model.fit(
        dataset(*train, batch_size=batch_size, shuffle=True, seed=seed),
        validation_data=dataset(*validation, batch_size=1024, shuffle=False, seed=seed) if has_val else None,
        epochs=epochs,
        callbacks=callbacks,
        verbose=verbose,
        shuffle=False,  # the dataset is already shuffled
    )
    return {k: [float(v) for v in values] for k, values in history.history.items()}
