"""The library's front door: `train` and `load` in one call each."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

import pandas as pd

from forecaster.model import Forecaster
from forecaster.params import ModelParams
from pipelines.conformal import DEFAULT_LEVELS
from pipelines.split import SplitSpec
from pipelines.windows import WindowSpec


def train(
    frame: pd.DataFrame,
    spec: WindowSpec | None,
    params: ModelParams | None = None,
    *,
    freq: str | None = None,
    max_gap: int = 3,
    split: SplitSpec | None = None,
    time_col: str | None = None,
    sensor_col: str | None = None,
    name: str | None = None,
    intervals: Sequence[float] | str | None = DEFAULT_LEVELS,
    verbose: int = 0,
    init_from: str | Path | None = None,
    refit_scaler: bool = False,
    refit_on_all: bool = False,
    **overrides: Any,
) -> Forecaster:
    """Train a forecaster on ``frame`` (fit on the train split; early stopping on validation).

    Args:
        frame: readings, e.g. from `forecaster.read_csv`.
        spec: the window definition.
        params: network and training settings (default: the declared defaults of `ModelParams`).
        freq, max_gap, split, time_col, sensor_col, name: see `Forecaster` (name: "forecaster").
        intervals: levels of the conformal prediction intervals calibrated on the validation
            windows (``()`` or ``None``: none); ``model.predict(frame, interval=0.95)`` uses them.
        verbose: Keras progress display (0 silent, 1 bar, 2 one line per epoch).
        init_from: a forecast bundle to warm-start from (`forecaster.warm_start`): ``spec``
            (may be None), ``params``, ``freq`` and ``name`` default to the parent's;
            a given one that differs is refused. ``refit_scaler``: fit a new scaler on the train
            split instead of keeping the parent's.
        refit_on_all: then train on train + validation + test for the epochs chosen (`Forecaster.fit`).
        **overrides: any `ModelParams` option by name (``cell="lstm"``, ``units=64``, ...),
            applied over ``params``.

    Returns:
        The fitted `Forecaster`.

    Raises:
        ForecasterError: an unknown option (named in the message) or an invalid value, before any training.

    Example:
        >>> train(None, None, unit=16)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        pipelines.errors.ForecasterError: unknown model option(s) ['unit']; the options are cell, layers, ...
    """
    if init_from is not None:
        from forecaster.warm_start import Parent

        parent = Parent.read(init_from)
        spec, params, freq, name = spec or parent.spec, params or parent.params, freq or parent.meta["freq"], name or parent.meta.get("name")
    params = ModelParams.from_options(params, overrides, stacklevel=3)
    forecaster = Forecaster(
        spec=spec, params=params, freq=freq, max_gap=max_gap, split=split,
        time_col=time_col, sensor_col=sensor_col, name=name or "forecaster", intervals=intervals,
    )
    return forecaster.fit(frame, verbose=verbose, init_from=init_from, refit_scaler=refit_scaler,
                          refit_on_all=refit_on_all)


def _signature_with_options() -> inspect.Signature:
    """`train`'s signature with every `ModelParams` option as a keyword (for help() and editors)."""
    signature = inspect.signature(train)
    own = [p for p in signature.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    options = [inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default, annotation=f.type)
               for f in fields(ModelParams)]
    return signature.replace(parameters=own + options)


train.__signature__ = _signature_with_options()  # type: ignore[attr-defined]


def load(directory: str | Path, *, runtime: str = "keras", threads: int | None = None) -> Forecaster:
    """Load a forecast bundle written by `Forecaster.save` (schema and checksums checked).

    Args:
        runtime: ``"keras"`` (TensorFlow, compiled fast path) or ``"tflite"`` (the bundle's
            ``model.tflite`` from `forecaster export` on LiteRT; TensorFlow is not imported).
        threads: LiteRT interpreter threads (default 2).
    """
    return Forecaster.load(directory, runtime=runtime, threads=threads)
