"""`Backfiller`: fill sensor gaps offline with bidirectional LSTMs (bundle kind ``backfill``).

Training uses the forecasting pipelines: readings on the cadence grid, a chronological
split with common borders, the scaler fit on the training rows only. Windows are cut from
runs of complete, real rows (nothing interpolated), and synthetic gaps are masked out of
them at random every epoch; the loss is on the masked points only.

A backfill network reads the future of a gap as well as its past, so it can never
forecast: `forecaster.load` refuses its bundle.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, fields
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecaster.backfill.plan import FillResult, GapPlan, assemble, plan_gaps
from forecaster.params import LOSSES, check_fields, option
from pipelines.checks import integer, one_of, real
from pipelines.columns import detect_columns
from pipelines.errors import DataError, ForecasterError
from pipelines.fleet import CHUNK, stack_series
from pipelines.gaps import BackfillSpec, gap_windows
from pipelines.masking import network_input
from pipelines.scaling import Scaler
from pipelines.series import prepare
from pipelines.split import TEST, TRAIN, VALIDATION, SplitSpec, split_labels

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BackfillParams:
    """How the backfill network is built and trained.

    Example:
        >>> BackfillParams(layers=1).units
        64
        >>> BackfillParams(units=0)
        Traceback (most recent call last):
        ...
        pipelines.errors.ForecasterError: `units` must be a positive integer. Received: units=0
    """

    layers: int = option(2, integer(1), "Stacked Bidirectional(LSTM) layers.")
    units: int = option(64, integer(1), "Units per direction.")
    dropout: float = option(0.0, real(0, 1, high_open=True), "Dropout in [0, 1).")
    loss: str = option("mae", one_of(LOSSES), "Training loss (on the masked points).")
    epochs: int = option(30, integer(1), "Most epochs (early stopping ends most runs sooner).")
    batch_size: int = option(64, integer(1), "Windows per training batch.")
    learning_rate: float = option(1e-3, real(0, 1, low_open=True, high_open=True), "Adam learning rate.")
    patience: int = option(5, integer(1), "Early-stopping patience (epochs).")
    stride: int = option(1, integer(1), "Slots between training windows.")
    seed: int = option(0, integer(0), "Random seed (weights, synthetic gaps).")

    def __post_init__(self) -> None:
        check_fields(self)

    def to_dict(self) -> dict:
        """Plain JSON-able form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> BackfillParams:
        """Inverse of `to_dict` (unknown keys are an error)."""
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise ForecasterError(f"unknown backfill parameter(s) {unknown}")
        return cls(**data)


class Backfiller:
    """Fills gaps in sensor series from the readings before and after them.

    Args:
        spec: window, longest gap, context needed, and the columns (read and filled together).
        params: network and training settings.
        freq: the cadence; inferred when ``None``.
        split: the chronological train/validation/test split.
        time_col, sensor_col: found by name when ``None``.
        name: a label for the bundle.

    Example:
        >>> spec = BackfillSpec(window=48, max_fill=12, min_context=6, features=["OT"])
        >>> Backfiller(spec=spec).params.layers
        2
    """

    def __init__(
        self,
        *,
        spec: BackfillSpec,
        params: BackfillParams | None = None,
        freq: str | None = None,
        split: SplitSpec | None = None,
        time_col: str | None = None,
        sensor_col: str | None = None,
        name: str = "backfill",
    ) -> None:
        if not isinstance(spec, BackfillSpec):
            raise ForecasterError(f"`spec` must be a BackfillSpec. Received: {type(spec).__name__}")
        self.spec = spec
        self.params = params or BackfillParams()
        self.freq = freq
        self.split = split or SplitSpec()
        self.time_col = time_col
        self.sensor_col = sensor_col
        self.name = name

    # ------------------------------------------------------------------ training
    def fit(self, frame: pd.DataFrame, *, verbose: int = 0) -> Backfiller:
        """Train on the complete stretches of ``frame`` with synthetic gaps; returns self.

        Raises:
            DataError: missing columns, bad timestamps, or too few complete rows for one window.
        """
        self.time_col_, self.sensor_col_ = detect_columns(frame, self.time_col, self.sensor_col)
        data = prepare(frame, self.spec.features, freq=self.freq, max_gap=0,
                       time_col=self.time_col_, sensor_col=self.sensor_col_)
        self.freq_ = data.freq
        borders = self.split.borders(data)
        labels = {s: split_labels(r.slots, borders) for s, r in data.series.items()}
        train_rows = np.concatenate([r.values[labels[s] == TRAIN] for s, r in data.series.items()])
        if len(train_rows) == 0:
            raise DataError("no complete rows in the training split", source=frame.attrs.get("source"))
        self.scaler_ = Scaler(columns=self.spec.features).fit(train_rows)
        del train_rows
        W, p = self.spec.window, self.params
        fleet = stack_series(((self.scaler_.transform(r.values), r.segment, labels[s]) for s, r in data.series.items()),
                             length=W, stride=p.stride)
        if fleet.count(TRAIN) == 0:
            raise DataError(
                f"too few rows for one training window: need {W} consecutive complete {data.freq} rows "
                "inside the training split", source=frame.attrs.get("source"))
        self.window_counts_ = {name: fleet.count(label) for name, label in
                               (("train", TRAIN), ("validation", VALIDATION), ("test", TEST))}
        log.info("backfill windows: %s (%d sensors, cadence %s)", self.window_counts_, len(data.series), data.freq)

        from forecaster.nn.bidirectional import GapBatches, build_backfill_model, fit_backfill_network
        from forecaster.nn.training import set_seed

        set_seed(p.seed)  # the initial weights too (they were drawn unseeded: two runs differed)
        self.model_ = build_backfill_model(window=W, n_columns=len(self.spec.features), layers=p.layers,
                                           units=p.units, dropout=p.dropout, name=self.name)
        held_out = {label: GapBatches(fleet.values, fleet.of(label), self.spec, batch_size=CHUNK, seed=p.seed,
                                      held_out=label) for label in (VALIDATION, TEST)}
        self.history_ = fit_backfill_network(
            self.model_, GapBatches(fleet.values, fleet.of(TRAIN), self.spec, batch_size=p.batch_size, seed=p.seed),
            held_out[VALIDATION], epochs=p.epochs, learning_rate=p.learning_rate, patience=p.patience, loss=p.loss,
            seed=p.seed, verbose=verbose,
        )
        self._predictor = None
        self.metrics_ = self._test_metrics(held_out[TEST])
        return self

    def _estimate(self, windows: np.ndarray, observed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Network and straight-line estimates of scaled ``windows`` (observed points kept)."""
        x, level = network_input(windows, observed)
        return self._predict_scaled(x) + level, x[..., : level.shape[-1]] + level

    def _test_metrics(self, batches: Any) -> dict[str, Any]:
        """MAE on synthetic gaps in the test windows (`GapBatches` of them, a batch at a time), in
        sensor units, beside straight lines."""
        if len(batches.starts) == 0:
            return {"test_windows": 0}
        columns = self.spec.features
        network_err, linear_err, masked_count = (np.zeros(len(columns)) for _ in range(3))
        for index in range(len(batches)):
            windows, observed = batches.windows(index)
            network, linear = self._estimate(windows, observed)
            masked = ~observed
            network_err += (np.abs(network - windows) * masked).sum(axis=(0, 1))
            linear_err += (np.abs(linear - windows) * masked).sum(axis=(0, 1))
            masked_count += masked.sum(axis=(0, 1))
        with np.errstate(invalid="ignore", divide="ignore"):  # a column never masked: NaN, a mean of nothing
            network_mae, linear_mae = (err * self.scaler_.scale_ / masked_count for err in (network_err, linear_err))
        return {"test_windows": int(len(batches.starts)), "masked_points": int(masked_count.sum()),
                "mae": dict(zip(columns, network_mae.tolist())), "linear_mae": dict(zip(columns, linear_mae.tolist()))}

    # ------------------------------------------------------------------- filling
    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise ForecasterError("this Backfiller is not fitted yet; call fit() or Backfiller.load()")

    def _predict_scaled(self, x: np.ndarray) -> np.ndarray:
        if getattr(self, "_predictor", None) is None:
            from forecaster.nn.inference import Predictor

            self._predictor = Predictor(self.model_)
        return self._predictor(x).astype("float64")

    def plan(self, frame: pd.DataFrame, *, max_fill: int | None = None) -> GapPlan:
        """Every gap of ``frame`` with what `fill` would do to it (no network needed)."""
        self._check_fitted()
        time_col = self.time_col_ if self.time_col_ in frame.columns else None
        sensor_col = self.sensor_col_ if self.sensor_col_ in frame.columns else None
        return plan_gaps(frame, self.spec, freq=self.freq_, max_fill=max_fill, time_col=time_col,
                         sensor_col=sensor_col)

    def fill(self, frame: pd.DataFrame, *, max_fill: int | None = None) -> FillResult:
        """Fill every gap of up to ``max_fill`` slots that has enough context on both sides.

        Args:
            frame: readings with the model's columns; missing values as NaN, missing
                timestamps simply absent. Never modified.
            max_fill: the longest gap to fill (default and upper bound: ``spec.max_fill``).

        Returns:
            A `FillResult`: the filled frame with ``<column>_filled`` flags, and a gap report.
        """
        return self.fill_plan(frame, self.plan(frame, max_fill=max_fill))

    def fill_plan(self, frame: pd.DataFrame, plan: GapPlan) -> FillResult:
        """Fill the gaps of a plan made by `plan` or `forecaster.backfill.plan.plan_gaps`."""
        self._check_fitted()
        gaps = plan.to_fill
        keys = sorted({(g.sensor, g.start, g.length) for g in gaps})
        estimates: dict[tuple[str, int, int], np.ndarray] = {}
        if keys:
            raw = np.concatenate([  # keys are sorted by sensor: one gather per sensor, in key order
                gap_windows(self.scaler_.transform(plan.grids[s].values), [(a, n) for _, a, n in group], self.spec)
                for s, group in groupby(keys, key=itemgetter(0))
            ])
            out = self.scaler_.inverse_transform(self._estimate(raw, np.isfinite(raw))[0])
            where = {key: i for i, key in enumerate(keys)}
            for g in gaps:
                before = self.spec.placement(g.length)
                estimates[(g.sensor, g.column, g.start)] = out[where[(g.sensor, g.start, g.length)],
                                                               before : before + g.length, g.column]
        return assemble(frame, plan, estimates)

    # ------------------------------------------------------------------- bundle
    def metadata(self) -> dict[str, Any]:
        """What `bundle.json` records about this backfiller."""
        self._check_fitted()
        from forecaster.bundle import fitted_meta

        return fitted_meta("backfill", self)

    def save(self, directory: str | Path) -> Path:
        """Write the bundle directory (model.keras + bundle.json, kind ``backfill``)."""
        from forecaster.bundle import save_bundle

        return save_bundle(directory, self.model_, self.metadata())

    @classmethod
    def load(cls, directory: str | Path) -> Backfiller:
        """Load a backfill bundle (schema and checksums checked).

        Raises:
            ForecasterError: not a bundle, a changed file, or a forecast bundle.
        """
        from forecaster.bundle import load_bundle

        model, meta = load_bundle(directory, expect="backfill")
        spec = BackfillSpec.from_dict(meta["spec"])
        expected = (None, spec.window, 2 * len(spec.features))
        if tuple(model.input_shape) != expected:
            raise ForecasterError(f"{directory}: network input {model.input_shape} does not match the spec {expected}")
        self = cls(spec=spec, params=BackfillParams.from_dict(meta["params"]), freq=meta["freq"],
                   time_col=meta["time_col"], sensor_col=meta["sensor_col"], name=meta.get("name", "backfill"))
        self.freq_, self.time_col_, self.sensor_col_ = meta["freq"], meta["time_col"], meta["sensor_col"]
        self.scaler_ = Scaler.from_dict(meta["scaler"])
        if self.scaler_.columns != spec.features:
            raise ForecasterError(f"{directory}: scaler columns {self.scaler_.columns} do not match {spec.features}")
        self.history_, self.metrics_ = meta.get("history", {}), meta.get("metrics", {})
        self.model_ = model
        self._predictor = None
        return self


def train_backfill(
    frame: pd.DataFrame,
    *,
    features: list[str] | None = None,
    window: int = 96,
    max_fill: int = 24,
    min_context: int = 8,
    layers: int = 2,
    units: int = 64,
    dropout: float = 0.0,
    loss: str = "mae",
    epochs: int = 30,
    batch_size: int = 64,
    learning_rate: float = 1e-3,
    patience: int = 5,
    stride: int = 1,
    seed: int = 0,
    freq: str | None = None,
    split: SplitSpec | None = None,
    time_col: str | None = None,
    sensor_col: str | None = None,
    name: str = "backfill",
    verbose: int = 0,
) -> Backfiller:
    """Train a backfiller on ``frame`` (fit on the train split; early stopping on validation).

    Args:
        frame: readings, e.g. from `forecaster.read_csv`.
        features: the columns to read and fill; default all value columns.
        window, max_fill, min_context: see `BackfillSpec`.
        layers, units, dropout, loss, epochs, batch_size, learning_rate, patience, stride,
            seed: see `BackfillParams`.
        freq, split, time_col, sensor_col, name: see `Backfiller`.
        verbose: Keras progress display (0 silent, 1 bar, 2 one line per epoch).

    Returns:
        The fitted `Backfiller`; ``metrics_`` holds its test-split MAE on synthetic gaps
        beside linear interpolation.
    """
    if features is None:
        time_col, sensor_col = detect_columns(frame, time_col, sensor_col)
        features = [c for c in frame.columns if c not in (time_col, sensor_col)
                    and pd.api.types.is_numeric_dtype(frame[c].dtype)]
    spec = BackfillSpec(window=window, max_fill=max_fill, min_context=min_context, features=features)
    params = BackfillParams(layers=layers, units=units, dropout=dropout, loss=loss, epochs=epochs,
                            batch_size=batch_size, learning_rate=learning_rate, patience=patience,
                            stride=stride, seed=seed)
    model = Backfiller(spec=spec, params=params, freq=freq, split=split, time_col=time_col,
                       sensor_col=sensor_col, name=name)
    return model.fit(frame, verbose=verbose)
