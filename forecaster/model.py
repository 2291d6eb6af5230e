"""`Forecaster`: scale, window, network, unscale. Users work in sensor units throughout."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecaster.inputs import fit_sensor_scalers, scale, series_inputs, window_inputs
from forecaster.params import ModelParams
from pipelines.calendar import widen
from pipelines.checks import integer, one_of
from pipelines.columns import detect_columns
from pipelines.conformal import DEFAULT_LEVELS, Conformal, parse_levels, target_history
from pipelines.errors import DataError, ForecasterError
from pipelines.fleet import FleetSeries, stack_series
from pipelines.scaling import Scaler
from pipelines.series import prepare, warn_ends_behind
from pipelines.split import TEST, TRAIN, VALIDATION, SplitSpec, split_labels
from pipelines.timeutil import step_of
from pipelines.windows import WindowSpec

log = logging.getLogger(__name__)

RUNTIMES = ("keras", "tflite")


class Forecaster:
    """A recurrent forecaster for one or many sensors (one global model).

    Args:
        spec: the window definition (input steps, horizon, features, targets).
        params: network and training settings.
        freq: the cadence (e.g. ``"1h"``); inferred from the data when ``None``.
        max_gap: the longest run of missing slots that is interpolated; longer gaps cut.
        split: the chronological train/validation/test split; after `fit`, ``split_`` holds
            it with its borders as instants (what the bundle records, so that `evaluate`
            cuts a longer file at the same times).
        time_col, sensor_col: the data's time and sensor columns; found by name when ``None``.
        name: a label written into published forecasts.
        intervals: the levels of the prediction intervals calibrated on the validation windows
            after training (`pipelines.conformal`; ``()``: none); ``intervals_`` holds the table.

    Example:
        >>> spec = WindowSpec(input_steps=24, horizon=6, features=["OT"], targets=["OT"])
        >>> Forecaster(spec=spec, params=ModelParams(units=8)).spec.horizon
        6
    """

    def __init__(
        self,
        *,
        spec: WindowSpec,
        params: ModelParams | None = None,
        freq: str | None = None,
        max_gap: int = 3,
        split: SplitSpec | None = None,
        time_col: str | None = None,
        sensor_col: str | None = None,
        name: str = "forecaster",
        intervals: Sequence[float] | str | None = DEFAULT_LEVELS,
    ) -> None:
        if not isinstance(spec, WindowSpec):
            raise ForecasterError(f"`spec` must be a WindowSpec. Received: {type(spec).__name__}")
        integer(0)("max_gap", max_gap)
        if params is not None and not isinstance(params, ModelParams):
            raise ForecasterError(f"`params` must be a ModelParams. Received: {type(params).__name__}")
        if freq is not None:
            step_of(freq)
        self.spec = spec
        self.params = self._params_asked = params or ModelParams()
        self.freq = freq
        self.max_gap = max_gap
        self.split = split or SplitSpec()
        self.time_col = time_col
        self.sensor_col = sensor_col
        self.name = name
        self.intervals = parse_levels(intervals)

    # ------------------------------------------------------------------ training
    def fit(self, frame: pd.DataFrame, *, verbose: int = 0, init_from: str | Path | None = None,
            refit_scaler: bool = False, refit_on_all: bool = False, worker: Any = None) -> Forecaster:
        """Train on ``frame`` (scaler on the train split only); returns self.

        Windows are never held: the sensors' scaled series lie end to end in one float32
        array (`pipelines.fleet`) and every batch is cut from its window start rows.

        Args:
            init_from: a forecast bundle to continue from (warm start, `forecaster.warm_start`):
                its spec, network design and cadence must be this forecaster's; its scaler is
                kept unless ``refit_scaler``.
            refit_on_all: after early stopping chose the epochs on validation, train the deployed
                network on the train, validation and test windows for that many epochs.
            worker: a `forecaster.nn.distributed.Worker`: train as one worker of a multi-worker
                cluster instead of in this process alone.

        Raises:
            DataError: missing columns, bad timestamps, or too few rows for one window.
            ForecasterError: ``init_from`` is not a forecast bundle of the same design.
        """
        from forecaster.combine import combined
        from forecaster.heldout import calibrate, metrics_on_test
        from forecaster.warm_start import Parent, fit_networks
        from forecaster.warm_start import refit_on_all as refit

        parent = None if init_from is None else Parent.read(init_from)
        if worker is not None and (parent is not None or refit_on_all):
            raise ForecasterError("--distributed trains from scratch on the split: it cannot be combined with "
                                  "--init-from or --refit-on-all")
        fleet = self._prepare(frame, parent=parent, refit_scaler=refit_scaler)
        self.model_, self.history_ = fit_networks(self.network_spec, self.params, fleet, verbose=verbose, parent=parent,
                                                  worker=worker)
        self.model_ = combined(self, fleet)  # with the baselines, when params.combine says so
        self._predictor = None
        self.intervals_ = calibrate(self, fleet)
        self.metrics_ = metrics_on_test(self, fleet)
        self.version_ = 1 if parent is None else parent.version + 1
        self.parent_, self.refit_, self.hash_ = None if parent is None else parent.record(), None, None
        if refit_on_all:
            refit(self, fleet, verbose=verbose, parent=parent)
        return self

    def _prepare(self, frame: pd.DataFrame, *, parent: Any = None, refit_scaler: bool = False) -> FleetSeries:
        """Regularize and split ``frame``, fit the scaler on the train rows (or keep ``parent``'s),
        and lay the scaled series end to end with each split's window starts (the fitted
        attributes it sets are the columns, cadence, gap reports, split, scaler and window counts)."""
        self.time_col_, self.sensor_col_ = detect_columns(frame, self.time_col, self.sensor_col)
        data = prepare(
            frame, self.spec.columns, freq=self.freq, max_gap=self.max_gap,
            time_col=self.time_col_, sensor_col=self.sensor_col_,
        )
        asked = getattr(self, "_params_asked", self.params)  # calendar="auto" means what it means for this data
        self.params = asked.resolved(self.spec, step_of(data.freq).value, parent=None if parent is None else parent.params)
        if parent is not None:  # before any training: one line naming every difference
            parent.check(self.spec, self.params, data.freq)
        self.freq_ = data.freq
        self.gap_reports_ = {sensor: series.report for sensor, series in data.series.items()}
        self.split_ = self.split.resolved(data)
        borders = self.split_.borders(data)
        labels = {s: split_labels(r.slots, borders) for s, r in data.series.items()}
        train_rows = np.concatenate([r.values[labels[s] == TRAIN] for s, r in data.series.items()])
        if len(train_rows) == 0:
            raise DataError("no complete rows in the training split", source=frame.attrs.get("source"))
        keep = parent is not None and not refit_scaler
        self.scaler_ = parent.scaler() if keep else Scaler(columns=self.spec.columns).fit(train_rows)
        del train_rows
        self.sensor_scalers_ = None
        if self.params.scale == "per-sensor":
            self.sensor_scalers_ = (parent.sensor_scalers(self.scaler_) if keep
                                    else fit_sensor_scalers(self.scaler_, data, labels))
        fleet = stack_series(((series_inputs(self, s, r.values, data.times(s)), r.segment, labels[s])
                              for s, r in data.series.items()),
                             length=self.spec.window_length, stride=self.spec.stride, names=tuple(data.series))
        if fleet.count(TRAIN) == 0:
            raise DataError(
                f"too few rows for one training window: need {self.spec.window_length} consecutive "
                f"{data.freq} rows (input_steps + horizon) inside the training split",
                source=frame.attrs.get("source"),
            )
        self.window_counts_ = {name: fleet.count(label) for name, label in
                               (("train", TRAIN), ("validation", VALIDATION), ("test", TEST))}
        log.info("windows: %d train, %d validation, %d test (%d sensors, cadence %s)", *self.window_counts_.values(),
                 len(data.series), data.freq)
        return fleet

    def interval_bounds(self, windows: np.ndarray, forecast: np.ndarray, level: object) -> tuple[np.ndarray, np.ndarray]:
        """``(lo, hi)`` in sensor units around ``forecast`` (`predict_windows` of raw ``windows``) at ``level``.

        Raises:
            ForecasterError: a model without intervals, or a level it was not calibrated at
                (the message names the levels it has).
        """
        return self._interval_table(level).bounds(forecast, level, target_history(windows, self.spec))

    def _interval_table(self, level: object) -> Conformal:
        """The interval table, checked to hold ``level`` (one clear error otherwise)."""
        self._check_fitted()
        if getattr(self, "intervals_", None) is None:
            raise ForecasterError("this model has no prediction intervals (its bundle predates them, or it was "
                                  "trained with --intervals none); retrain it to get them")
        self.intervals_.check(level)
        return self.intervals_

    # ---------------------------------------------------------------- prediction
    def _check_fitted(self) -> None:
        if not hasattr(self, "scaler_"):
            raise ForecasterError("this Forecaster is not fitted yet; call fit() or forecaster.load()")

    @property
    def predictor(self):
        """The compiled predict function (built on first use)."""
        self._check_fitted()
        if getattr(self, "_predictor", None) is None:
            from forecaster.nn.inference import Predictor

            self._predictor = Predictor(self.model_)
        return self._predictor

    def warmup(self) -> None:
        """Compile every batch size now (a daemon calls this before taking traffic)."""
        self.predictor.warmup()

    def _predict_scaled(self, X_scaled: np.ndarray) -> np.ndarray:
        return self.predictor(X_scaled).astype("float64")

    @property
    def network_spec(self) -> WindowSpec:
        """The spec of what the network reads: the features, then the calendar columns (if any)."""
        return widen(self.spec, self.params.calendar_parts)

    def unseen_sensors(self, sensors: Sequence[object]) -> list[object]:
        """With per-sensor scaling, the sensors without statistics of their own (scaled by the global ones)."""
        scalers = getattr(self, "sensor_scalers_", None)
        return [] if scalers is None else scalers.unseen(sensors)

    def predict_windows(self, windows: np.ndarray, *, sensors: Sequence[object] | None = None,
                        ends: object = None) -> np.ndarray:
        """Forecasts in sensor units for raw feature windows.

        Args:
            windows: ``(n, input_steps, n_features)`` in sensor units, features in spec order.
            sensors: the sensor id of each window (needed with ``scale="per-sensor"``; a sensor
                unseen at training is scaled by the global statistics).
            ends: the time of each window's last row, timestamps or ns since the epoch
                (needed with calendar inputs).

        Returns:
            ``(n, horizon, n_targets)`` in sensor units.
        """
        self._check_fitted()
        windows = np.asarray(windows, dtype="float64")
        expected = (self.spec.input_steps, len(self.spec.features))
        if windows.ndim != 3 or windows.shape[1:] != expected:
            raise ForecasterError(f"windows must have shape (n, {expected[0]}, {expected[1]}). Received: {windows.shape}")
        inputs = window_inputs(self, windows, sensors, ends)
        return scale(self, self._predict_scaled(inputs), sensors, self.spec.target_index, inverse=True)

    def latest_windows(self, frame: pd.DataFrame) -> tuple[list[str], np.ndarray, list[pd.Timestamp]]:
        """The last full input window of each sensor: ``(sensors, windows, last timestamps)``.

        A sensor whose window ends before the frame's last time (its last rows missing or
        incomplete) gets a forecast that starts in the past: one logged warning says which
        sensors and from when.

        Raises:
            DataError: a sensor whose latest segment is shorter than ``input_steps``.
        """
        self._check_fitted()
        time_col, sensor_col = self._columns_of(frame)
        data = prepare(
            frame, self.spec.features, freq=self.freq_, max_gap=self.max_gap,
            time_col=time_col, sensor_col=sensor_col,
        )
        L = self.spec.input_steps
        sensors, windows, ends = [], [], []
        for sensor, series in data.series.items():
            rows = series.values[series.last_segment()]
            if len(rows) < L:
                raise DataError(
                    f"need {L} regular rows at the end of the series to forecast, found {len(rows)} "
                    f"(after a gap longer than max_gap={self.max_gap} or too little data)",
                    source=frame.attrs.get("source"),
                    sensor=None if sensor_col is None else sensor,
                )
            sensors.append(sensor)
            windows.append(rows[-L:])
            ends.append(data.times(sensor)[-1])
        warn_ends_behind(frame, time_col, sensors, ends, data.step, named=sensor_col is not None)
        return sensors, np.stack(windows), ends

    def predict(self, frame: pd.DataFrame, *, interval: float | None = None) -> pd.DataFrame:
        """The next ``horizon`` steps after the end of each sensor's series.

        Args:
            frame: readings with the model's feature columns and at least ``input_steps``
                regular rows per sensor.
            interval: a calibrated level (e.g. 0.95): adds ``<target>_lo`` and ``<target>_hi``
                beside each target.

        Returns:
            Columns ``sensor`` (when the data has a sensor column), ``ts`` and one per
            target, in sensor units; ``horizon`` rows per sensor.
        """
        if interval is not None:
            self._interval_table(interval)  # a model without it: one error before any work
        sensors, windows, ends = self.latest_windows(frame)
        forecast = self.predict_windows(windows, sensors=sensors, ends=ends)
        bands = None if interval is None else self.interval_bounds(windows, forecast, interval)
        return self.forecast_frame(sensors, ends, forecast, with_sensor=self._columns_of(frame)[1] is not None,
                                   bands=bands)

    def _columns_of(self, frame: pd.DataFrame) -> tuple[str | None, str | None]:
        """The time and sensor columns of a frame to predict on (trained names first)."""
        time_col = self.time_col_ if self.time_col_ in frame.columns else None
        sensor_col = self.sensor_col_ if self.sensor_col_ in frame.columns else None
        return detect_columns(frame, time_col, sensor_col)

    def forecast_frame(
        self, sensors: list[str], ends: list[pd.Timestamp], forecast: np.ndarray, *, with_sensor: bool = True,
        bands: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> pd.DataFrame:
        """Long-format forecast rows from ``(n_sensors, horizon, n_targets)`` arrays; with ``bands``
        (``lo``, ``hi`` of that shape), ``<target>_lo`` and ``<target>_hi`` beside each target."""
        step = step_of(self.freq_)
        H = self.spec.horizon
        ts = np.concatenate([pd.date_range(end + step, periods=H, freq=step).as_unit("ns") for end in ends])
        out = pd.DataFrame({"sensor": np.repeat(sensors, H), "ts": ts})
        for j, target in enumerate(self.spec.targets):
            out[target] = forecast[:, :, j].reshape(-1)
            if bands is not None:
                out[f"{target}_lo"], out[f"{target}_hi"] = (b[:, :, j].reshape(-1) for b in bands)
        if not with_sensor:
            out = out.drop(columns="sensor")
        return out

    # ------------------------------------------------------------------- bundle
    def metadata(self) -> dict[str, Any]:
        """What `bundle.json` records about this forecaster."""
        self._check_fitted()
        from forecaster.bundle import fitted_meta
        from forecaster.warm_start import lineage_meta

        table = getattr(self, "intervals_", None)
        per_sensor = getattr(self, "sensor_scalers_", None)
        return fitted_meta("forecast", self, max_gap=self.max_gap, split=self.split_.to_dict(), **lineage_meta(self),
                           **({"intervals": table.to_dict()} if table is not None else {}),
                           **({"sensor_scalers": per_sensor.to_dict()} if per_sensor is not None else {}))

    @property
    def identity(self) -> dict[str, Any]:
        """``{"name", "version", "hash"}``: what published forecasts carry (the hash is the
        bundle's content hash, `forecaster.bundle.content_hash`; None before `save`)."""
        return {"name": self.name, "version": getattr(self, "version_", 1), "hash": getattr(self, "hash_", None)}

    def save(self, directory: str | Path) -> Path:
        """Write the bundle directory (model.keras + bundle.json); sets the content hash."""
        from forecaster.bundle import content_hash, save_bundle

        out = save_bundle(directory, self.model_, self.metadata())
        self.hash_ = content_hash(out)
        return out

    @classmethod
    def load(cls, directory: str | Path, *, runtime: str = "keras", threads: int | None = None) -> Forecaster:
        """Load a forecast bundle (schema, checksums and features checked).

        Args:
            directory: the bundle.
            runtime: ``"keras"`` (TensorFlow, compiled fast path) or ``"tflite"`` (the
                bundle's ``model.tflite`` export on the LiteRT runtime; no TensorFlow needed).
            threads: LiteRT interpreter threads (default 2); Keras threads are process-wide,
                see `forecaster.nn.tf_env.limit_threads`.

        Raises:
            ForecasterError: not a bundle, a changed file, a backfill or bidirectional
                network, or no TFLite export for ``runtime="tflite"``.
        """
        from forecaster.bundle import load_bundle, read_meta
        from forecaster.restore import restore

        one_of(RUNTIMES)("runtime", runtime)
        if runtime == "keras":
            from forecaster.nn.tf_env import require_tensorflow

            require_tensorflow()
            from forecaster.nn.recurrent import is_bidirectional

            model, meta = load_bundle(directory, expect="forecast")
            if is_bidirectional(model):
                raise ForecasterError(f"{directory}: a bidirectional network cannot forecast (it needs the future)")
        else:
            model, meta = None, read_meta(directory, expect="forecast")
        self = restore(cls, directory, meta, model)
        if runtime == "tflite":
            from forecaster.nn.litert import TFLitePredictor

            self._predictor = TFLitePredictor.from_bundle(directory, meta, threads=threads or 2)
        return self
