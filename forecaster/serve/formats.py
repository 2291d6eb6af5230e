"""How a forecast is written on the wire (``--output-format``): one formatter, picked once.

- ``json`` (the default): the outbound JSON of DESIGN 3.2, one object per forecast.
- ``influx``: InfluxDB line protocol, one line per target and step, all in one message,
  which Telegraf's ``mqtt_consumer`` with ``data_format = "influx"`` ingests as is::

      forecast,model=etth1,model_hash=9f2c4e1a7b3d5f60,model_version=2,sensor=t1,step=1,target=OT value=30.9 1467342000000000000

  Tags are sorted by key (the order InfluxDB recommends); ``step`` makes each lead time its
  own series, so forecasts of one time issued at different times never overwrite each
  other; the timestamp is the forecast time in nanoseconds since the epoch (UTC). Tag
  values escape ``,``, ``=`` and space with a backslash; an id that line protocol cannot
  carry unambiguously (empty, a backslash or a control character) is refused, not altered.

The model is named by its identity (`forecaster.model.Forecaster.identity`): JSON carries
``"model": {"name": ..., "version": 2, "hash": "9f2c4e1a7b3d5f60"}``, line protocol the tags
``model``, ``model_hash`` and ``model_version`` (so a reloaded model's forecasts are their own
series). A plain name (a string) is written as it is, without version and hash.

With prediction intervals (``--interval 0.95``, repeatable), each JSON step carries ``"lo"`` and
``"hi"``, by level and target (``"lo": {"0.95": {"OT": 29.1}}``), and each line-protocol line
the fields ``lo_0.95`` and ``hi_0.95`` beside ``value``. The service predicts them with the
forecast (`banded`): the formatter gets one array whose last axis holds the targets, then the
lower and the upper bound of the targets at each level in turn.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import orjson
import pandas as pd

from forecaster.serve.interfaces import identity
from pipelines.conformal import level_key
from pipelines.errors import ForecasterError
from pipelines.payloads import format_timestamp
from pipelines.timeutil import NS_PER_SECOND, step_of

OUTPUT_FORMATS = ("json", "influx")
MEASUREMENT = "forecast"
Formatter = Callable[[str, int, np.ndarray], bytes]
"""``(sensor, last_slot, forecast of shape (horizon, n_targets * (1 + 2 * n_levels))) -> payload``."""
Bands = Sequence[tuple[str, np.ndarray, np.ndarray]]
"""``(level, lo, hi)`` per level, each bound of the forecast's shape ``(horizon, n_targets)``."""

_TAG_ESCAPES = str.maketrans({",": "\\,", "=": "\\=", " ": "\\ "})


def check_output_format(value: str) -> str:
    """Validate ``--output-format``.

    Example:
        >>> check_output_format("xml")
        Traceback (most recent call last):
        ...
        pipelines.errors.ForecasterError: `output_format` must be 'json' or 'influx'. Received: output_format='xml'
    """
    if value not in OUTPUT_FORMATS:
        raise ForecasterError(f"`output_format` must be 'json' or 'influx'. Received: output_format={value!r}")
    return value


def tag_value(value: str, what: str = "tag") -> str:
    """``value`` as a line-protocol tag value: ``,`` ``=`` and space escaped with a backslash.

    Raises:
        ForecasterError: ``value`` is empty or holds a backslash or a control character
            (line protocol has no unambiguous way to carry them).

    Example:
        >>> print(tag_value("hall 2,floor=1"))
        hall\\ 2\\,floor\\=1
        >>> tag_value("a\\\\b", "sensor")
        Traceback (most recent call last):
        ...
        pipelines.errors.ForecasterError: sensor 'a\\\\b' cannot be an InfluxDB tag value (empty, a backslash or a control character)
    """
    if not value or "\\" in value or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ForecasterError(f"{what} {value!r} cannot be an InfluxDB tag value (empty, a backslash or a control character)")
    return value.translate(_TAG_ESCAPES)


def banded(model: Any, levels: Sequence[float]) -> Callable[..., np.ndarray]:
    """The service's predict function ``predict(windows, sensors, ends)``: ``model.predict_windows``
    (given each window's sensor and last slot time, for per-sensor scaling and calendar inputs),
    with the bounds of each level appended on the last axis (the layout `formatter` reads) when
    ``levels`` are given."""

    def predict(windows: np.ndarray, sensors: Sequence[str], ends: Sequence[int]) -> np.ndarray:
        forecast = model.predict_windows(windows, sensors=sensors, ends=ends)
        parts = [forecast]
        for level in levels:
            parts.extend(model.interval_bounds(windows, forecast, level))
        return np.concatenate(parts, axis=2)

    return predict


def split_bands(stacked: np.ndarray, n_targets: int, levels: Sequence[str]) -> tuple[np.ndarray, Bands]:
    """The forecast ``(horizon, n_targets)`` and the `Bands` of a `banded` row.

    Example:
        >>> split_bands(np.array([[1.0, 0.5, 2.0]]), 1, ["0.9"])
        (array([[1.]]), [('0.9', array([[0.5]]), array([[2.]]))])
    """
    T = n_targets
    return stacked[:, :T], [(level, stacked[:, T * (1 + 2 * i):T * (2 + 2 * i)], stacked[:, T * (2 + 2 * i):T * (3 + 2 * i)])
                            for i, level in enumerate(levels)]


def forecast_payload(
    sensor: str, last_slot: int, forecast: np.ndarray, *, step_ns: int, freq: str, model: str | Mapping,
    targets: Sequence[str],
    times: Sequence[str] | None = None, bands: Bands = (),
) -> bytes:
    """The outbound JSON (DESIGN 3.2): ``issued_at`` is the time of the window's last row.

    Args:
        model: the model's identity (``name``, ``version``, ``hash``) or its name.
        times: the formatted times of slots ``last_slot .. last_slot + horizon`` when
            already known (`slot_times`; shared by the sensors of one batch).
        bands: the intervals of each step as ``"lo"`` and ``"hi"``, by level and target.

    Example:
        >>> forecast_payload("t1", 1, np.array([[30.5]]), step_ns=3_600_000_000_000, freq="1h", model="m", targets=["OT"])
        b'{"sensor":"t1","issued_at":"1970-01-01T01:00:00Z","model":"m","step":"1h","forecast":[{"ts":"1970-01-01T02:00:00Z","OT":30.5}]}'
        >>> forecast_payload("t1", 1, np.array([[30.5]]), step_ns=3_600_000_000_000, freq="1h", model="m", targets=["OT"],
        ...                  bands=[("0.95", np.array([[29.0]]), np.array([[32.0]]))])[-64:]
        b'"OT":30.5,"lo":{"0.95":{"OT":29.0}},"hi":{"0.95":{"OT":32.0}}}]}'
    """
    times = times or slot_times(last_slot, len(forecast), step_ns)
    steps = []
    listed = [(level, lo.tolist(), hi.tolist()) for level, lo, hi in bands]
    for k, row in enumerate(forecast.tolist()):
        item: dict[str, object] = {"ts": times[k + 1]}
        item.update(zip(targets, row))
        if listed:
            item["lo"] = {level: dict(zip(targets, lo[k])) for level, lo, _ in listed}
            item["hi"] = {level: dict(zip(targets, hi[k])) for level, _, hi in listed}
        steps.append(item)
    body = {"sensor": sensor, "issued_at": times[0], "model": model if isinstance(model, str) else dict(model),
            "step": freq, "forecast": steps}
    return orjson.dumps(body)  # 5x faster than json.dumps here (21 vs 109 us for 24 x 7)


def slot_times(last_slot: int, horizon: int, step_ns: int) -> list[str]:
    """ISO times of ``last_slot`` and the ``horizon`` slots after it (vectorized: this runs
    for every published forecast).

    Example:
        >>> slot_times(0, 2, 1_800_000_000_000)
        ['1970-01-01T00:00:00Z', '1970-01-01T00:30:00Z', '1970-01-01T01:00:00Z']
        >>> slot_times(3, 1, 500_000_000)
        ['1970-01-01T00:00:01.5Z', '1970-01-01T00:00:02Z']
    """
    ns = (np.arange(last_slot, last_slot + horizon + 1, dtype="int64") * step_ns).astype("datetime64[ns]")
    if step_ns % NS_PER_SECOND == 0:
        return [t + "Z" for t in np.datetime_as_string(ns, unit="s").tolist()]
    return [format_timestamp(pd.Timestamp(int(v), unit="ns", tz="UTC")) for v in ns.astype("int64")]


def influx_lines(sensor: str, last_slot: int, forecast: np.ndarray, *, step_ns: int, model: str | Mapping,
                 targets: Sequence[str]) -> bytes:
    """The forecast as InfluxDB line protocol: one line per step and target.

    Example:
        >>> print(influx_lines("t 1", 1, np.array([[30.5, 1.0]]), step_ns=3_600_000_000_000, model="m",
        ...                    targets=["OT", "HUFL"]).decode())
        forecast,model=m,sensor=t\\ 1,step=1,target=OT value=30.5 7200000000000
        forecast,model=m,sensor=t\\ 1,step=1,target=HUFL value=1.0 7200000000000
    """
    tagged = [tag_value(t, "target") for t in targets]
    return _lines(tag_value(sensor, "sensor"), last_slot, forecast, step_ns, model_tags(model), tagged)


def model_tags(model: str | Mapping) -> str:
    """The escaped value of the ``model`` tag, followed by ``model_hash`` and ``model_version``
    when the identity has them (the tags sorted by key).

    Example:
        >>> print(model_tags({"name": "etth1 gru", "version": 2, "hash": "9f2c4e1a7b3d5f60"}))
        etth1\\ gru,model_hash=9f2c4e1a7b3d5f60,model_version=2
        >>> model_tags("m")
        'm'
    """
    if isinstance(model, str):
        return tag_value(model, "model")
    tags = tag_value(model["name"], "model")
    for key in ("hash", "version"):
        if model.get(key) is not None:
            tags += f",model_{key}={tag_value(str(model[key]), 'model ' + key)}"
    return tags


def _lines(sensor: str, last_slot: int, forecast: np.ndarray, step_ns: int, model: str, targets: Sequence[str],
           bands: Bands = ()) -> bytes:
    """`influx_lines` with every tag value already escaped (``model``: `model_tags`); ``bands`` add the fields ``lo_<level>``
    and ``hi_<level>`` to each line.

    Example:
        >>> _lines("t1", 0, np.array([[1.5]]), 60_000_000_000, "m", ["OT"], [("0.8", np.array([[1.0]]), np.array([[2.0]]))])
        b'forecast,model=m,sensor=t1,step=1,target=OT value=1.5,lo_0.8=1.0,hi_0.8=2.0 60000000000'
    """
    head = f"{MEASUREMENT},model={model},sensor={sensor},step="
    listed = [(level, lo.tolist(), hi.tolist()) for level, lo, hi in bands]
    lines = []
    for k, row in enumerate(forecast.tolist(), start=1):
        ts = (last_slot + k) * step_ns
        for j, (target, v) in enumerate(zip(targets, row)):
            extra = "".join(f",lo_{level}={float(lo[k - 1][j])!r},hi_{level}={float(hi[k - 1][j])!r}"
                            for level, lo, hi in listed)
            lines.append(f"{head}{k},target={target} value={float(v)!r}{extra} {ts}")
    return "\n".join(lines).encode()


def formatter(output_format: str, *, step_ns: int, freq: str, model: str | Mapping, targets: Sequence[str],
              levels: Sequence[float] = ()) -> Formatter:
    """The payload function of ``output_format`` for one model (checked once, here); with
    ``levels``, its forecasts are `banded` arrays and each step carries their intervals.

    Raises:
        ForecasterError: an unknown format, or (influx) a target or model name that cannot
            be a tag value.

    Example:
        >>> fmt = formatter("influx", step_ns=60_000_000_000, freq="1min", model="m", targets=["OT"])
        >>> fmt("t1", 0, np.array([[1.5], [2.5]]))
        b'forecast,model=m,sensor=t1,step=1,target=OT value=1.5 60000000000\\nforecast,model=m,sensor=t1,step=2,target=OT value=2.5 120000000000'
    """
    check_output_format(output_format)
    targets, keys = list(targets), [level_key(level) for level in levels]
    if output_format == "influx":
        tagged, model_tag = [tag_value(t, "target") for t in targets], model_tags(model)
        return lambda sensor, slot, forecast: _lines(tag_value(sensor, "sensor"), slot,
                                                     *_split(forecast, len(targets), keys, step_ns, model_tag, tagged))
    cache: list[tuple[int, list[str]]] = [(-1, [])]  # the sensors of one batch usually share their last slot

    def json_payload(sensor: str, slot: int, forecast: np.ndarray) -> bytes:
        last, times = cache[0]
        if last != slot or len(times) != len(forecast) + 1:
            times = slot_times(slot, len(forecast), step_ns)
            cache[0] = (slot, times)
        point, bands = split_bands(forecast, len(targets), keys)
        return forecast_payload(sensor, slot, point, step_ns=step_ns, freq=freq, model=model, targets=targets,
                                times=times, bands=bands)

    return json_payload


def model_outputs(model: Any, output_format: str, levels: Sequence[float] = ()) -> tuple[Formatter, Callable]:
    """The payload function (`formatter`) and the predict function (`banded`) that serve
    ``model`` in ``output_format`` with interval ``levels``: built at start and at each reload."""
    fmt = formatter(output_format, step_ns=step_of(model.freq_).value, freq=model.freq_, model=identity(model),
                    targets=model.spec.targets, levels=levels)
    return fmt, banded(model, levels)


def _split(forecast: np.ndarray, n_targets: int, keys: Sequence[str], *rest: Any) -> tuple:
    """`_lines`' arguments from a `banded` row: the forecast, ``rest``, the bands."""
    point, bands = split_bands(forecast, n_targets, keys)
    return (point, *rest, bands)
