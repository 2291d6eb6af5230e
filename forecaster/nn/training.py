"""Training loop: windows through `tf.data` into `model.fit` with Keras callbacks."""

from __future__ import annotations

import logging

import numpy as np

from forecaster.nn.tf_env import quiet_tensorflow

quiet_tensorflow()

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from pipelines.fleet import FleetSeries  # noqa: E402
from pipelines.split import TEST, TRAIN, VALIDATION  # noqa: E402
from pipelines.windows import WindowSpec, offsets  # noqa: E402

log = logging.getLogger(__name__)


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow (weights, dropout, shuffling) for a reproducible run."""
    keras.utils.set_random_seed(seed)


def standard_callbacks(monitor: str, patience: int, restore_best: bool = True) -> list[keras.callbacks.Callback]:
    """Early stopping with the best weights restored (``restore_best``), learning rate halved on
    plateaus, stop on NaN."""
    return [
        keras.callbacks.EarlyStopping(monitor=monitor, patience=patience, restore_best_weights=restore_best),
        keras.callbacks.ReduceLROnPlateau(monitor=monitor, factor=0.5, patience=max(1, patience // 2)),
        keras.callbacks.TerminateOnNaN(),
    ]


def training_callbacks(monitor: str, patience: int, learning_rate: float, lr_decay: float,
                       restore_best: bool = True) -> list[keras.callbacks.Callback]:
    """`standard_callbacks`, with ``lr_decay`` < 1 a fixed schedule (the learning rate times
    ``lr_decay`` every epoch after the third) in place of halving on plateaus."""
    callbacks = standard_callbacks(monitor, patience, restore_best)
    if lr_decay < 1:
        callbacks[1] = keras.callbacks.LearningRateScheduler(
            lambda epoch, _lr: learning_rate * lr_decay ** max(0, epoch - 2)
        )
    return callbacks


def dataset(X: np.ndarray, y: np.ndarray, *, batch_size: int, shuffle: bool, seed: int) -> tf.data.Dataset:
    """Windows as a batched, prefetched (and optionally shuffled) `tf.data.Dataset`."""
    data = tf.data.Dataset.from_tensor_slices((X.astype("float32"), y.astype("float32")))
    if shuffle:
        data = data.shuffle(len(X), seed=seed, reshuffle_each_iteration=True)
    return data.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def start_batches(starts: np.ndarray, *, batch_size: int, shuffle: bool, seed: int) -> tf.data.Dataset:
    """Batches of window start rows, reshuffled every epoch when ``shuffle`` (the same order for
    the same seed, whatever the windows hold: what `dataset` shuffled, by the same rule)."""
    data = tf.data.Dataset.from_tensor_slices(np.asarray(starts, dtype="int32"))
    if shuffle:
        data = data.shuffle(max(len(starts), 1), seed=seed, reshuffle_each_iteration=True)
    return data.batch(batch_size)


def window_cutter(
    values: np.ndarray, *, input_steps: int, horizon: int, target_index: list[int],
    feature_index: list[int] | None = None,
):
    """``cut(batch_starts) -> (X, y)``: one gather per batch of the ``input_steps + horizon`` rows
    of each window from the scaled series ``values`` ``(rows, columns)``, held once as float32;
    X is the first ``input_steps`` rows of ``feature_index`` (default: every column), y the
    next ``horizon`` rows of ``target_index``. The rows are `pipelines.windows.offsets`, the ones
    `pipelines.windows.gather` cuts in numpy."""
    series = tf.constant(np.asarray(values, dtype="float32"))
    rows = tf.constant(offsets(input_steps + horizon), dtype=tf.int32)
    features = None if feature_index is None or list(feature_index) == list(range(values.shape[1])) else list(feature_index)

    def cut(batch_starts):
        window = tf.gather(series, batch_starts[:, None] + rows[None, :])
        X = window[:, :input_steps] if features is None else tf.gather(window[:, :input_steps], features, axis=2)
        return X, tf.gather(window[:, input_steps:], target_index, axis=2)

    return cut


def series_dataset(
    values: np.ndarray, starts: np.ndarray, *, input_steps: int, horizon: int, target_index: list[int],
    batch_size: int, shuffle: bool, seed: int, feature_index: list[int] | None = None,
) -> tf.data.Dataset:
    """Windows cut on the fly from one scaled series ``(rows, columns)`` (or a fleet's series
    end to end, `pipelines.fleet.FleetSeries`, with global starts): window ``i`` takes rows
    ``[starts[i], starts[i] + input_steps)`` of the features as X and the next ``horizon`` rows
    of the targets as y. Memory: the series once and one index per window, never the windows."""
    cut = window_cutter(values, input_steps=input_steps, horizon=horizon, target_index=target_index,
                        feature_index=feature_index)
    batches = start_batches(starts, batch_size=batch_size, shuffle=shuffle, seed=seed)
    return batches.map(cut, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


class TimeBudget(keras.callbacks.Callback):
    """Stop training after the epoch during which ``seconds`` of training have passed."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds

    def on_train_begin(self, logs=None):
        import time

        self._start = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        import time

        if time.monotonic() - self._start >= self.seconds and not self.model.stop_training:
            self.model.stop_training = True
            log.warning("training stopped by the time budget (%.0f s) after %d epoch(s)", self.seconds, epoch + 1)


def fit_network(
    model: keras.Model,
    train: tuple[np.ndarray, np.ndarray] | tf.data.Dataset,
    validation: tuple[np.ndarray, np.ndarray] | tf.data.Dataset | None,
    *,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    patience: int,
    loss: str,
    seed: int,
    verbose: int,
    lr_decay: float = 1.0,
    time_budget: float | None = None,
    steps_per_epoch: int | None = None,
    restore_best: bool = True,
) -> dict[str, list[float]]:
    """Compile and train ``model`` on scaled windows; returns the per-epoch history.

    ``train`` and ``validation`` are ``(X, y)`` arrays or batched datasets (`series_dataset`).
    Early stopping restores the best weights (on validation loss when there is a
    validation set, else on training loss). The learning rate halves on plateaus, or with
    ``lr_decay`` < 1 is multiplied by ``lr_decay`` every epoch after the third.
    ``time_budget`` (seconds) stops training after the epoch that exceeds it.
    ``steps_per_epoch`` makes an "epoch" (one validation, one learning-rate step) that many
    batches of the endlessly reshuffled training set instead of one pass.
    ``restore_best=False`` keeps the weights of the last epoch (a run of a fixed length).
    """
    keras.utils.set_random_seed(seed)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss, metrics=["mae"])
    if isinstance(validation, tf.data.Dataset):
        has_val = True
    else:
        has_val = validation is not None and len(validation[0]) > 0
        validation = dataset(*validation, batch_size=1024, shuffle=False, seed=seed) if has_val else None
    if not isinstance(train, tf.data.Dataset):
        train = dataset(*train, batch_size=batch_size, shuffle=True, seed=seed)
    callbacks = training_callbacks("val_loss" if has_val else "loss", patience, learning_rate, lr_decay, restore_best)
    if time_budget is not None:
        callbacks.append(TimeBudget(time_budget))
    if steps_per_epoch is not None:
        train = train.repeat()
    history = model.fit(
        train,
        steps_per_epoch=steps_per_epoch,
        validation_data=validation,
        epochs=epochs,
        callbacks=callbacks,
        verbose=verbose,
        shuffle=False,  # the dataset is already shuffled
    )
    return {k: [float(v) for v in values] for k, values in history.history.items()}


def fleet_fitter(spec: WindowSpec, fleet: FleetSeries, *, verbose: int):
    """``fit_member(network, params, fixed_epochs=None)`` for `forecaster.nn.ensemble.train_ensemble`:
    trains one network on the fleet's training windows (early stopping on its validation windows),
    cut a batch at a time from the fleet's scaled series; returns the per-epoch history. With
    ``fixed_epochs``, exactly that many epochs on the train, validation and test windows together
    and no early stopping (`forecaster.warm_start.refit_on_all`)."""

    def fit_member(network: keras.Model, p, fixed_epochs: int | None = None) -> dict[str, list[float]]:
        common = dict(input_steps=spec.input_steps, horizon=spec.horizon, target_index=list(spec.target_index),
                      feature_index=list(spec.feature_index), seed=p.seed)
        starts = fleet.of(TRAIN) if fixed_epochs is None else np.concatenate([fleet.of(label) for label in
                                                                                (TRAIN, VALIDATION, TEST)])
        train = series_dataset(fleet.values, starts, batch_size=p.batch_size, shuffle=True, **common)
        val = None
        if fleet.count(VALIDATION) and fixed_epochs is None:
            val = series_dataset(fleet.values, fleet.of(VALIDATION), batch_size=1024, shuffle=False, **common)
        return fit_network(network, train, val, epochs=fixed_epochs or p.epochs, batch_size=p.batch_size,
                           learning_rate=p.learning_rate, patience=fixed_epochs or p.patience, loss=p.loss,
                           seed=p.seed, verbose=verbose, lr_decay=p.lr_decay, restore_best=fixed_epochs is None)

    return fit_member
