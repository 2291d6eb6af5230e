"""Split conformal prediction intervals: residual quantiles per target and horizon step.

`Conformal` learns, on held-out windows (the validation split; never the test split), how far
the actual values fell from the forecasts, and turns each level into an offset per horizon step
and target: ``lo = forecast + scale * lower``, ``hi = forecast + scale * upper``. The quantile
is the finite-sample conformal one: the ``ceil((n + 1) q)``-th smallest of ``n`` scores, so
that, with exchangeable windows, at least ``q`` of new ones fall inside. A level needs
``ceil((n + 1) q) <= n`` windows (19 for 0.95; 39 with signed residuals, whose tails are at 0.975); a
level with too few is left out (logged; `available` lists the rest).

The interval is a post-hoc residual quantile: it is the same for every network family and
runtime. Two choices, both recorded in the table (and compared by ``benchmarks/intervals.py``):

- ``residual``: ``"absolute"`` (one quantile of ``|actual - forecast|``, a symmetric band) or
  ``"signed"`` (the ``(1 - q) / 2`` and ``(1 + q) / 2`` quantiles of ``actual - forecast``).
- ``scale``: ``"none"`` (sensor units) or ``"window"`` (residuals divided by the window's
  recent volatility, the mean absolute step of the target over the input window, floored at
  `FLOOR` times its median on the calibration windows), which widens the band where the
  series moves and narrows it where it is calm.

The table is plain JSON numbers (`to_dict`), stored in ``bundle.json``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import numpy as np

from pipelines.checks import is_real, one_of
from pipelines.errors import ForecasterError
from pipelines.windows import WindowSpec

log = logging.getLogger(__name__)

DEFAULT_LEVELS = (0.8, 0.95)
RESIDUALS = ("absolute", "signed")
SCALES = ("none", "window")
DEFAULT_RESIDUAL = "signed"
DEFAULT_SCALE = "window"
FLOOR = 0.1  # the window scale never falls below this fraction of its calibration median


def level_key(level: object) -> str:
    """A level's canonical name (the key in ``bundle.json`` and on the wire).

    Example:
        >>> level_key(0.95), level_key(0.80)
        ('0.95', '0.8')
        >>> level_key(1.0)
        Traceback (most recent call last):
        ...
        pipelines.errors.ForecasterError: an interval level must be a number between 0 and 1 (e.g. 0.95). Received: 1.0
    """
    number: object = level
    if isinstance(level, str):
        try:
            number = float(level)
        except ValueError:
            pass
    if not is_real(number) or not 0 < float(number) < 1:  # NaN fails too
        raise ForecasterError(f"an interval level must be a number between 0 and 1 (e.g. 0.95). Received: {level!r}")
    return format(round(float(number), 6), "g")


def parse_levels(value: str | Sequence[object] | None) -> tuple[float, ...]:
    """Levels from a comma list (``"0.8,0.95"``), a sequence, or ``None``/``"none"`` (no intervals);
    sorted, duplicates dropped.

    Example:
        >>> parse_levels("0.95, 0.8"), parse_levels("none"), parse_levels([0.9])
        ((0.8, 0.95), (), (0.9,))
        >>> parse_levels("95")
        Traceback (most recent call last):
        ...
        pipelines.errors.ForecasterError: an interval level must be a number between 0 and 1 (e.g. 0.95). Received: '95'
    """
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none")):
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)
    levels = [float(level_key(item.strip() if isinstance(item, str) else item)) for item in items]
    return tuple(sorted(set(levels)))


def conformal_quantile(scores: np.ndarray, q: float) -> np.ndarray | None:
    """The ``ceil((n + 1) q)``-th smallest score along axis 0 (``None`` when ``n`` is too small).

    Example:
        >>> conformal_quantile(np.arange(1.0, 20.0), 0.95), conformal_quantile(np.arange(1.0, 9.0), 0.95)
        (np.float64(19.0), None)
    """
    n = len(scores)
    k = math.ceil((n + 1) * q - 1e-9)
    if k > n or n == 0:
        return None
    return np.sort(scores, axis=0)[k - 1]


def target_history(windows: np.ndarray, spec: WindowSpec) -> np.ndarray | None:
    """The targets' own rows of raw feature windows ``(n, L, F) -> (n, L, T)`` (None when a target
    is not a feature: such a model's intervals do not scale with the window)."""
    if not all(t in spec.features for t in spec.targets):
        return None
    return np.asarray(windows, dtype="float64")[:, :, [spec.features.index(t) for t in spec.targets]]


def window_scale(history: np.ndarray) -> np.ndarray:
    """The mean absolute step of each target over its input window: ``(n, L, T) -> (n, 1, T)``."""
    history = np.asarray(history, dtype="float64")
    if history.shape[1] < 2:
        return np.ones((len(history), 1, history.shape[2]))
    return np.abs(np.diff(history, axis=1)).mean(axis=1, keepdims=True)


class Conformal:
    """Split conformal intervals per level, horizon step and target.

    Args:
        levels: the nominal coverages, e.g. ``(0.8, 0.95)``.
        residual: ``"absolute"`` or ``"signed"`` (see the module).
        scale: ``"none"`` or ``"window"`` (see the module).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> actual = rng.normal(size=(199, 2, 1)); forecast = np.zeros_like(actual)
        >>> c = Conformal(levels=(0.8,), residual="absolute", scale="none").fit(actual, forecast)
        >>> lo, hi = c.bounds(np.zeros((1, 2, 1)), 0.8)
        >>> bool(np.all(hi > 1.0) and np.all(lo == -hi))
        True
        >>> c.bounds(np.zeros((1, 2, 1)), 0.9)
        Traceback (most recent call last):
        ...
        pipelines.errors.ForecasterError: no interval at level 0.9 in this model; calibrated levels: 0.8
    """

    def __init__(self, *, levels: Sequence[float] = DEFAULT_LEVELS, residual: str = DEFAULT_RESIDUAL,
                 scale: str = DEFAULT_SCALE) -> None:
        one_of(RESIDUALS)("residual", residual)
        one_of(SCALES)("scale", scale)
        self.levels = parse_levels(levels)
        self.residual, self.scale = residual, scale

    def fit(self, actual: np.ndarray, forecast: np.ndarray, history: np.ndarray | None = None, *,
            scales: np.ndarray | None = None) -> Conformal:
        """Calibrate on held-out windows ``(n, H, T)`` in sensor units; ``scale="window"`` needs
        ``history`` ``(n, L, T)``, the targets over the input windows, or their `window_scale`
        ``(n, 1, T)`` as ``scales`` (computed a chunk at a time, without the windows). Returns self."""
        actual, forecast = np.asarray(actual, dtype="float64"), np.asarray(forecast, dtype="float64")
        if actual.shape != forecast.shape or actual.ndim != 3:
            raise ForecasterError(f"actual {actual.shape} and forecast {forecast.shape} must be equal (n, H, T) arrays")
        residuals = actual - forecast
        self.floor_ = None
        if self.scale == "window":
            if history is None and scales is None:
                raise ForecasterError("scale='window' needs the targets' input windows (history)")
            raw = window_scale(history) if scales is None else np.asarray(scales, dtype="float64")
            self.floor_ = np.maximum(FLOOR * np.median(raw, axis=0)[0], 1e-12)
            residuals = residuals / np.maximum(raw, self.floor_)
        self.windows_ = len(actual)
        self.bands_: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for level in self.levels:
            band = self._band(residuals, level)
            if band is None:
                log.info("interval level %s left out: %d calibration windows are too few for it", level_key(level),
                            len(actual))
            else:
                self.bands_[level_key(level)] = band
        return self

    def _band(self, residuals: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray] | None:
        if self.residual == "absolute":
            q = conformal_quantile(np.abs(residuals), level)
            return None if q is None else (-q, q)
        tail = (1 + level) / 2
        upper, lower = conformal_quantile(residuals, tail), conformal_quantile(-residuals, tail)
        return None if upper is None or lower is None else (-lower, upper)

    @property
    def available(self) -> list[str]:
        """The calibrated levels (canonical names, ascending)."""
        self._check()
        return sorted(self.bands_, key=float)

    def _check(self) -> None:
        if not hasattr(self, "bands_"):
            raise ForecasterError("this Conformal is not fitted yet; call fit() first")

    def check(self, level: object) -> str:
        """The canonical name of ``level``, which must be calibrated (the error names those that are)."""
        key = level_key(level)
        if key not in self.available:
            levels = ", ".join(self.available) or "none"
            raise ForecasterError(f"no interval at level {key} in this model; calibrated levels: {levels}")
        return key

    def bounds(self, forecast: np.ndarray, level: object, history: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
        """``(lo, hi)`` around ``forecast`` ``(n, H, T)`` at ``level``; ``history`` ``(n, L, T)``
        for ``scale="window"``.

        Raises:
            ForecasterError: a level that was not calibrated (the message names those that were).
        """
        lower, upper = self.bands_[self.check(level)]
        forecast = np.asarray(forecast, dtype="float64")
        if self.scale == "none":
            return forecast + lower, forecast + upper
        if history is None:
            raise ForecasterError("this model's intervals scale with the input window: pass the windows")
        scale = np.maximum(window_scale(history), self.floor_)
        return forecast + scale * lower, forecast + scale * upper

    def to_dict(self) -> dict:
        """Plain JSON: the method, the calibration size and per level the lower and upper offsets ``(H, T)``."""
        self._check()
        return {
            "method": "split conformal", "calibration": "validation windows", "residual": self.residual,
            "scale": self.scale, "windows": int(self.windows_),
            **({"floor": self.floor_.tolist()} if self.floor_ is not None else {}),
            "levels": {k: {"lower": lo.tolist(), "upper": hi.tolist()} for k, (lo, hi) in self.bands_.items()},
        }

    @classmethod
    def from_dict(cls, data: dict, *, spec: WindowSpec, source: object = "bundle") -> Conformal:
        """Inverse of `to_dict`, checked against the model's horizon and targets (``source``
        names the bundle in messages)."""
        try:
            self = cls(levels=[float(k) for k in data["levels"]], residual=data["residual"], scale=data["scale"])
            self.windows_ = int(data["windows"])
            self.floor_ = np.asarray(data["floor"], dtype="float64") if self.scale == "window" else None
            self.bands_ = {level_key(float(k)): (np.asarray(v["lower"], dtype="float64"),
                                                 np.asarray(v["upper"], dtype="float64"))
                           for k, v in data["levels"].items()}
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ForecasterError(f"{source}: bundle.json has no valid interval table ({exc!r})") from None
        shape = (spec.horizon, len(spec.targets))
        for key, (lo, hi) in self.bands_.items():
            if lo.shape != shape or hi.shape != shape or not (np.isfinite(lo).all() and np.isfinite(hi).all()):
                raise ForecasterError(f"{source}: bundle.json interval table at level {key} is not finite numbers "
                                      f"of shape {shape}")
        if self.scale == "window" and (target_history(np.zeros((0, spec.input_steps, len(spec.features))), spec) is None
                                       or self.floor_.shape != (len(spec.targets),)):
            raise ForecasterError(f"{source}: bundle.json interval table scales with the window but has no floor "
                                  "per target, or a target is not a feature")
        return self
