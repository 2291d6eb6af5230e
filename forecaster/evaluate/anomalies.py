"""`forecaster evaluate --anomalies OUT.csv`: the anomaly flags the daemon would raise
(``serve --anomaly-topic``), listed offline over the test windows of a CSV, so that a level can
be tuned before switching the flags on live.

A test window whose last input row is at slot ``s`` forecasts slot ``s + step``; its reading
there is flagged when it lies outside the interval at ``level``. The columns are the fields of
the live payload: ``sensor, ts, target, reading, forecast, lo, hi, level, step, issued_at,
score``. Unlike the daemon, the batch path interpolates short gaps first, so a slot filled
across a gap may be flagged here (the daemon scores readings only).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecaster.evaluate.scores import split_windows
from forecaster.model import Forecaster
from pipelines.conformal import level_key
from pipelines.errors import ForecasterError
from pipelines.metrics import anomaly_score
from pipelines.payloads import format_timestamp
from pipelines.split import TEST
from pipelines.timeutil import step_of

COLUMNS = ["sensor", "ts", "target", "reading", "forecast", "lo", "hi", "level", "step", "issued_at", "score"]


def anomaly_flags(model: Forecaster, frame: pd.DataFrame, *, level: float = 0.95, step: int = 1) -> pd.DataFrame:
    """The readings of the test split outside the ``level`` interval of the forecast issued
    ``step`` slots before them, one row per reading and target (`COLUMNS`), by sensor and time.

    Raises:
        ForecasterError: a model without intervals at ``level``, or ``step`` beyond the horizon.
    """
    spec = model.spec
    if isinstance(step, bool) or not isinstance(step, int) or not 1 <= step <= spec.horizon:
        raise ForecasterError(f"`anomaly_step` must be in [1, {spec.horizon}] (the horizon). Received: {step!r}")
    model._interval_table(level)  # one clear line for a model without this level, before any work
    test = split_windows(model, frame)[0].get(TEST)
    if test is None or not len(test.X):
        return pd.DataFrame(columns=COLUMNS)
    forecast = model.predict_windows(test.X, sensors=test.sensor, ends=test.origin)
    lo, hi = model.interval_bounds(test.X, forecast, level)
    k = step - 1
    y, f, lo, hi = test.y[:, k], forecast[:, k], lo[:, k], hi[:, k]  # (n, n_targets)
    rows, cols = np.nonzero((y < lo) | (y > hi))
    issued = pd.DatetimeIndex(test.origin[rows])
    issued = issued.tz_localize("UTC") if issued.tz is None else issued.tz_convert("UTC")
    flags = pd.DataFrame({
        "sensor": test.sensor[rows] if test.sensor is not None else "", "ts": issued + step * step_of(model.freq_),
        "target": np.asarray(spec.targets, dtype=object)[cols], "reading": y[rows, cols], "forecast": f[rows, cols],
        "lo": lo[rows, cols], "hi": hi[rows, cols], "level": level_key(level), "step": step, "issued_at": issued,
        "score": anomaly_score(y[rows, cols], lo[rows, cols], hi[rows, cols]),
    }, columns=COLUMNS)
    flags = flags.sort_values(["sensor", "ts", "target"], kind="stable").reset_index(drop=True)
    for column in ("ts", "issued_at"):  # as on the wire
        flags[column] = [format_timestamp(t) for t in flags[column]]
    return flags
