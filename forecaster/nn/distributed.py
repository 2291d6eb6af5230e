"""Multi-worker training: `tf.distribute.MultiWorkerMirroredStrategy` with our own training loop.

Keras 3's ``model.fit`` fails under this strategy (keras-team/keras issue 20585), so the loop
is ours, with the rules of `forecaster.nn.training.fit_network`: the same loss and ``mae``
metric, the same Keras callbacks (early stopping with the best weights restored, the
learning rate halved on plateaus or decayed by ``lr_decay``) driven epoch by epoch, the same
seeds and the same shuffled order of windows. Every global batch (``batch_size`` windows, the
one-process batch) is cut in equal shares, one per worker; each worker gathers only its
share's windows from the fleet's scaled series, the gradients are summed across workers and
the loss is divided by the global batch's size, so one step is the one-process step. A worker
whose share of the last, short batch is empty runs one window with weight 0.

A non-finite training loss stops training at the end of its epoch (all workers agree on the
summed loss), where ``fit`` stops within the epoch.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from forecaster.nn.tf_env import quiet_tensorflow

quiet_tensorflow()

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from forecaster.nn.cluster import Cluster  # noqa: E402
from forecaster.nn.training import start_batches, training_callbacks, window_cutter  # noqa: E402
from pipelines.fleet import FleetSeries  # noqa: E402
from pipelines.split import TRAIN, VALIDATION  # noqa: E402
from pipelines.windows import WindowSpec  # noqa: E402

log = logging.getLogger(__name__)
VALIDATION_BATCH = 1024  # as in fit_network


class Worker:
    """This process as one worker of the cluster ``TF_CONFIG`` describes (create it before any other TensorFlow op).

    Args:
        cluster: the checked ``TF_CONFIG`` (`forecaster.nn.cluster.parse_tf_config`).
    """

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.strategy = tf.distribute.MultiWorkerMirroredStrategy()

    @property
    def is_chief(self) -> bool:
        """True for the worker that writes the bundle."""
        return self.cluster.is_chief

    def fitter(self, spec: WindowSpec, fleet: FleetSeries, *, verbose: int):
        """``fit_member(network, params)`` for `forecaster.nn.ensemble.train_ensemble`: trains
        ``network`` with the other workers and leaves the trained weights in it."""

        def fit_member(network: keras.Model, p: Any) -> dict[str, list[float]]:
            with self.strategy.scope():
                replica = keras.models.clone_model(network)
                replica.set_weights(network.get_weights())
                replica.compile(optimizer=keras.optimizers.Adam(p.learning_rate), loss=p.loss)
                replica.optimizer.build(replica.trainable_variables)
            keras.utils.set_random_seed(p.seed)
            history = self._train(replica, spec, fleet, p, verbose=verbose)
            network.set_weights(replica.get_weights())
            return history

        return fit_member

    def _shards(self, spec: WindowSpec, fleet: FleetSeries, label: int, *, batch_size: int, shuffle: bool,
                seed: int) -> tf.data.Dataset:
        """This worker's ``(X, y, weight, global batch size)`` of each global batch of split ``label``."""
        rank, workers = self.cluster.rank, self.cluster.workers
        cut = window_cutter(fleet.values, input_steps=spec.input_steps, horizon=spec.horizon,
                            target_index=list(spec.target_index), feature_index=list(spec.feature_index))

        def share(batch):
            n = tf.shape(batch)[0]
            lo, hi = n * rank // workers, n * (rank + 1) // workers
            empty = tf.equal(lo, hi)
            part = tf.cond(empty, lambda: batch[:1], lambda: batch[lo:hi])
            weight = tf.cond(empty, lambda: tf.zeros([1]), lambda: tf.ones([hi - lo]))
            X, y = cut(part)
            return X, y, weight, tf.cast(n, tf.float32)

        batches = start_batches(fleet.of(label), batch_size=batch_size, shuffle=shuffle, seed=seed)
        return batches.map(share, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)

    def _train(self, model: keras.Model, spec: WindowSpec, fleet: FleetSeries, p: Any, *,
               verbose: int) -> dict[str, list[float]]:
        """The epochs of one network; returns its history as ``fit`` records it."""
        train = self._shards(spec, fleet, TRAIN, batch_size=p.batch_size, shuffle=True, seed=p.seed)
        has_val = fleet.count(VALIDATION) > 0
        val = self._shards(spec, fleet, VALIDATION, batch_size=VALIDATION_BATCH, shuffle=False, seed=p.seed)
        steps = Steps(self.strategy, model, spec, p.loss)
        callbacks = keras.callbacks.CallbackList(
            training_callbacks("val_loss" if has_val else "loss", p.patience, p.learning_rate, p.lr_decay),
            add_history=True, model=model)
        model.stop_training = False
        callbacks.on_train_begin()
        for epoch in range(p.epochs):
            if epoch:  # Keras' fit opens one iterator more between epochs: the same reshuffles as fit
                iter(train)
            callbacks.on_epoch_begin(epoch)
            logs = steps.epoch(train, training=True)
            if has_val:
                logs.update({f"val_{k}": v for k, v in steps.epoch(val, training=False).items()})
            callbacks.on_epoch_end(epoch, logs)
            if verbose and self.is_chief:
                print(f"Epoch {epoch + 1}/{p.epochs} - " + " - ".join(f"{k}: {v:.4g}" for k, v in logs.items()), flush=True)
            if not np.isfinite(logs["loss"]):
                log.warning("training stopped: the loss is %s after epoch %d", logs["loss"], epoch + 1)
                model.stop_training = True
            if model.stop_training:
                break
        callbacks.on_train_end()
        return {k: [float(v) for v in values] for k, values in model.history.history.items()}


class Steps:
    """The compiled train and evaluation steps of one network on this worker's shares."""

    def __init__(self, strategy: tf.distribute.Strategy, model: keras.Model, spec: WindowSpec, loss: str) -> None:
        self.strategy, self.model = strategy, model
        loss_fn, mae_fn = keras.losses.get(loss), keras.losses.get("mae")

        def sums(y, forecast, weight):
            """Weighted sums of the per-window loss and MAE (each the mean over horizon and targets)."""
            per_loss = tf.reduce_mean(loss_fn(y, forecast), axis=-1)
            per_mae = tf.reduce_mean(mae_fn(y, forecast), axis=-1)
            return tf.reduce_sum(weight * per_loss), tf.reduce_sum(weight * per_mae)

        def train_step(X, y, weight, n):
            with tf.GradientTape() as tape:
                loss_sum, mae_sum = sums(y, model(X, training=True), weight)
                scaled = loss_sum / n  # summed over workers: the mean over the global batch
            grads = tape.gradient(scaled, model.trainable_variables)
            model.optimizer.apply_gradients(zip(grads, model.trainable_variables))
            return tf.stack([loss_sum, mae_sum, tf.reduce_sum(weight)])

        def eval_step(X, y, weight, n):
            loss_sum, mae_sum = sums(y, model(X, training=False), weight)
            return tf.stack([loss_sum, mae_sum, tf.reduce_sum(weight)])

        signature = [tf.TensorSpec((None, spec.input_steps, len(spec.features)), tf.float32),
                     tf.TensorSpec((None, spec.horizon, len(spec.targets)), tf.float32),
                     tf.TensorSpec((None,), tf.float32), tf.TensorSpec((), tf.float32)]
        self._train = tf.function(lambda *a: strategy.run(train_step, args=a), input_signature=signature)
        self._eval = tf.function(lambda *a: strategy.run(eval_step, args=a), input_signature=signature)
        self._sum = tf.function(lambda v: strategy.reduce(tf.distribute.ReduceOp.SUM,
                                                          strategy.run(tf.identity, args=(v,)), axis=None))

    def epoch(self, shards: tf.data.Dataset, *, training: bool) -> dict[str, float]:
        """One pass over this worker's shares; the loss and MAE over every worker's windows."""
        step = self._train if training else self._eval
        local = np.zeros(3)
        for X, y, weight, n in shards:
            local += self._local(step(X, y, weight, n))
        total = self._local(self._sum(tf.constant(local, dtype=tf.float64)))
        windows = max(total[2], 1.0)
        return {"loss": total[0] / windows, "mae": total[1] / windows}

    def _local(self, value: Any) -> np.ndarray:
        return self.strategy.experimental_local_results(value)[0].numpy().astype("float64")
