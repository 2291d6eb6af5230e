"""The library's front door: `train` and `load` in one call each."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from forecaster.model import Forecaster
from forecaster.params import DEFAULTS as _D
from forecaster.params import ModelParams
from pipelines.split import SplitSpec
from pipelines.windows import WindowSpec


def train(
    frame: pd.DataFrame,
    spec: WindowSpec,
    *,
    model: str = _D["model"],
    layers: int = _D["layers"],
    units: int = _D["units"],
    dropout: float = _D["dropout"],
    recurrent_dropout: float = _D["recurrent_dropout"],
    conv: bool = _D["conv"],
    residual: bool = _D["residual"],
    loss: str = _D["loss"],
    epochs: int = _D["epochs"],
    batch_size: int = _D["batch_size"],
    learning_rate: float = _D["learning_rate"],
    patience: int = _D["patience"],
    seed: int = _D["seed"],
    norm: str = _D["norm"],
    channel_independent: bool = _D["channel_independent"],
    segment: int | None = _D["segment"],
    decoder: str = _D["decoder"],
    lr_decay: float = _D["lr_decay"],
    ensemble: int = _D["ensemble"],
    freq: str | None = None,
    max_gap: int = 3,
    split: SplitSpec | None = None,
    time_col: str | None = None,
    sensor_col: str | None = None,
    name: str = "forecaster",
    verbose: int = 0,
) -> Forecaster:
    """Train a forecaster on ``frame`` (fit on the train split; early stopping on validation).

    Args:
        frame: readings, e.g. from `forecaster.read_csv`.
        spec: the window definition.
        model, layers, units, dropout, recurrent_dropout, conv, residual, loss, epochs,
            batch_size, learning_rate, patience, seed, norm, channel_independent, segment,
            decoder, lr_decay, ensemble: see `ModelParams` (norm to lr_decay are the SegRNN-style
            options; ``ensemble`` > 1 averages that many networks trained with successive seeds).
        freq, max_gap, split, time_col, sensor_col, name: see `Forecaster`.
        verbose: Keras progress display (0 silent, 1 bar, 2 one line per epoch).

    Returns:
        The fitted `Forecaster`.
    """
    params = ModelParams(
        model=model, layers=layers, units=units, dropout=dropout,
        recurrent_dropout=recurrent_dropout, conv=conv, residual=residual, loss=loss,
        epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
        patience=patience, seed=seed, norm=norm, channel_independent=channel_independent,
        segment=segment, decoder=decoder, lr_decay=lr_decay, ensemble=ensemble,
    )
    forecaster = Forecaster(
        spec=spec, params=params, freq=freq, max_gap=max_gap, split=split,
        time_col=time_col, sensor_col=sensor_col, name=name,
    )
    return forecaster.fit(frame, verbose=verbose)


def load(directory: str | Path, *, runtime: str = "keras", threads: int | None = None) -> Forecaster:
    """Load a forecast bundle written by `Forecaster.save` (schema and checksums checked).

    Args:
        runtime: ``"keras"`` (TensorFlow, compiled fast path) or ``"tflite"`` (the bundle's
            ``model.tflite`` from `forecaster export` on LiteRT; TensorFlow is not imported).
        threads: LiteRT interpreter threads (default 2).
    """
    return Forecaster.load(directory, runtime=runtime, threads=threads)
