"""Training input pipeline throughput: ours against `keras.utils.timeseries_dataset_from_array`.

    .venv/bin/python benchmarks/train_throughput.py [--rows 8640] [--epochs 2] [--batch-size 64]

Same data (a regular 7-column series), same model (the reference 2x64 LSTM, 96 x 7 in,
24 x 7 out), same batch size; measures training windows per second per epoch (the best
epoch after a warm-up epoch) for our pipeline (windows cut once with `make_windows`, then
`tf.data` shuffle/batch/prefetch) and for Keras' windowing utility.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import reference_network, table, write_results  # noqa: E402


class EpochTimer:
    """Collects epoch durations (a Keras callback, built lazily to keep imports at the edge)."""

    def __new__(cls):
        import keras

        class _Timer(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                self.times: list[float] = []

            def on_epoch_begin(self, epoch, logs=None):
                self._start = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                self.times.append(time.perf_counter() - self._start)

        return _Timer()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=8640)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()

    from forecaster.nn.training import dataset, keras, set_seed  # keras after TensorFlow is quieted
    from pipelines import WindowSpec, make_windows

    rng = np.random.default_rng(0)
    t = np.arange(args.rows)
    values = (np.sin(2 * np.pi * t[:, None] / 24 + np.arange(7)) + rng.normal(0, 0.1, (args.rows, 7))).astype("float32")
    spec = WindowSpec(input_steps=96, horizon=24, features=[str(i) for i in range(7)], targets=[str(i) for i in range(7)])
    L, H = spec.input_steps, spec.horizon

    def timed_fit(data) -> float:
        set_seed(0)
        model = reference_network()
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
        timer = EpochTimer()
        model.fit(data, epochs=args.epochs + 1, verbose=0, callbacks=[timer])
        return min(timer.times[1:])

    start = time.perf_counter()
    X, y = make_windows(values, spec)
    cut_s = time.perf_counter() - start
    n = len(X)
    ours = timed_fit(dataset(X, y, batch_size=args.batch_size, shuffle=True, seed=0))

    # timeseries_dataset_from_array has no multi-step target: cut windows of L + H rows and
    # split each into input and horizon (what users write by hand)
    import tensorflow as tf

    keras_pairs = keras.utils.timeseries_dataset_from_array(
        values, targets=None, sequence_length=L + H, batch_size=args.batch_size, shuffle=True, seed=0,
    ).map(lambda w: (w[:, :L, :], w[:, L:, :]), num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
    theirs = timed_fit(keras_pairs)

    rows = [
        ["ours: make_windows + tf.data (shuffle, batch, prefetch)", n, n / ours, 1.0],
        ["keras.utils.timeseries_dataset_from_array (+ split map)", n, n / theirs, theirs / ours],
    ]
    print(f"{args.rows} rows, {n} windows, batch {args.batch_size}; cutting windows took {cut_s * 1000:.0f} ms")
    print(table(["input pipeline", "windows", "windows/s (best epoch)", "epoch time vs ours"], rows))
    path = write_results("train_throughput", {
        "args": vars(args), "windows": n, "ours_per_s": n / ours, "keras_per_s": n / theirs, "cut_ms": cut_s * 1000,
    })
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
