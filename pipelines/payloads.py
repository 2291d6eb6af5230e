"""Inbound MQTT messages to readings: `parse_message` is pure and never raises for bad input.

A message becomes either a `Reading` (sensor, UTC time, one float per feature in model
order, NaN where the message has no value) or a `Rejection` naming its `Cause`, which the
daemon counts. Two payload shapes are accepted (DESIGN 3.2)::

    {"ts": "2026-11-23T12:00:00Z", "values": {"HUFL": 5.83, "OT": 30.5}}   # nested
    {"ts": 1795435200, "HUFL": 5.83, "OT": 30.5}                          # flat

and device shapes through the `ParseRules`: the timestamp under another name or path
(``time``, ``timestamp``, ``Time``, ``datetime`` are found without being told; epoch
seconds, ms, us or ns by magnitude), features at dotted paths (``T=SI7021.Temperature``),
numbers sent as strings, no timestamp at all (the receive time). A feature that is absent or
``null`` is a missing value (NaN), exactly like an empty CSV cell; fields that no rule uses
are ignored and reported in `Reading.ignored` (or rejected with ``ignore_unknown=False``).

The sensor id comes from the topic level matched by ``+`` in the subscription filter, or
from a ``sensor`` field (both present: they must agree). An id that could steer where the
forecast is published (``/``, ``+``, ``#``, NUL, a leading ``$``, control characters, too
long) is refused: this is the topic-injection guard.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from pipelines.errors import ForecasterError
from pipelines.payload_fields import MISSING, TS_FIELDS, check_path, find_timestamp, lookup, to_number, to_timestamp
from pipelines.rejections import Cause
from pipelines.timeutil import NS_PER_SECOND

RESERVED = ("ts", "sensor", "values")
FORBIDDEN_IN_ID = frozenset("/+#\0")


@dataclass(frozen=True)
class ParseRules:
    """What a valid message looks like.

    Args:
        subscription: the topic filter, with at most one ``+`` (the sensor level).
        features: the values a reading must carry, in model order.
        known: further field names that are accepted and ignored (e.g. a target that is
            not a feature); ``features`` are always known.
        ignore_unknown: ignore any other field (listed in `Reading.ignored`) instead of
            rejecting the message (``unknown_feature``).
        max_bytes: the largest payload accepted.
        max_sensor_len: the longest sensor id accepted.
        max_future_s: reject timestamps more than this many seconds ahead of ``now``
            (a reading from year 3000 would otherwise freeze the sensor's window).
        ts_field: the dotted path of the timestamp; None: the first of ``ts``, ``time``,
            ``timestamp``, ``Time``, ``datetime`` present.
        mapping: ``(feature, dotted path)`` pairs for features that are not top-level fields
            (or fields of ``values``) named like the feature.
        arrival_time: take ``now`` (the receive time) when a message has no timestamp.

    Example:
        >>> ParseRules(subscription="sensors/+/readings", features=["OT"]).sensor_level
        1
        >>> ParseRules(subscription="a/+/+", features=["OT"])
        Traceback (most recent call last):
        ...
        pipelines.errors.ForecasterError: `subscription` may hold at most one '+' (the sensor level). Received: subscription='a/+/+'
    """

    subscription: str
    features: tuple[str, ...]
    known: tuple[str, ...] = field(default=())
    ignore_unknown: bool = True
    max_bytes: int = 65_536
    max_sensor_len: int = 128
    max_future_s: float = 86_400.0
    ts_field: str | None = None
    mapping: tuple[tuple[str, str], ...] = ()
    arrival_time: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "features", tuple(self.features))
        object.__setattr__(self, "known", tuple(self.known))
        mapping = self.mapping.items() if isinstance(self.mapping, dict) else self.mapping
        object.__setattr__(self, "mapping", tuple((str(f), str(p)) for f, p in mapping))
        self._check_fields()
        levels = self.subscription.split("/")
        if not self.subscription or "\0" in self.subscription:
            raise ForecasterError(f"`subscription` must be an MQTT topic filter. Received: subscription={self.subscription!r}")
        if levels.count("+") > 1:
            raise ForecasterError(
                f"`subscription` may hold at most one '+' (the sensor level). Received: subscription={self.subscription!r}"
            )
        bad = [lv for lv in levels if lv not in ("+", "#") and ("+" in lv or "#" in lv)]
        if bad or ("#" in levels and levels.index("#") != len(levels) - 1):
            raise ForecasterError(f"`subscription` is not a valid topic filter. Received: subscription={self.subscription!r}")
        if not self.features:
            raise ForecasterError("`features` must name at least one value")
        for name, value in (("max_bytes", self.max_bytes), ("max_sensor_len", self.max_sensor_len)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ForecasterError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
        if not self.max_future_s > 0:
            raise ForecasterError(f"`max_future_s` must be positive. Received: max_future_s={self.max_future_s!r}")

    def _check_fields(self) -> None:
        if self.ts_field is not None:
            check_path(self.ts_field, "ts_field")
        columns = self.features + self.known
        for feature, path in self.mapping:
            check_path(path, "--map")
            if feature not in columns:
                raise ForecasterError(f"`--map` names {feature!r}, which is not a model column; columns: {list(columns)}")
        if len(dict(self.mapping)) != len(self.mapping):
            raise ForecasterError("`--map` maps a feature twice")

    @functools.cached_property
    def paths(self) -> dict[str, str]:
        """Each mapped feature's path."""
        return dict(self.mapping)

    @functools.cached_property
    def used_names(self) -> frozenset[str]:
        """The field names some rule uses: features, known columns, the first level of each mapped path."""
        return frozenset(self.features + self.known + tuple(p.split(".", 1)[0] for p in self.paths.values()))

    @property
    def sensor_level(self) -> int | None:
        """The index of the ``+`` level in the filter, or None (sensor from the payload)."""
        levels = self.subscription.split("/")
        return levels.index("+") if "+" in levels else None


@dataclass(frozen=True)
class Reading:
    """One valid message: ``values`` are in the order of the rules' features, NaN where the
    message had no value (``absent``: the features whose field or path was not there at all,
    as opposed to ``null``); ``ignored``: the fields no rule used."""

    sensor: str
    ts: pd.Timestamp
    values: tuple[float, ...]
    ignored: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rejection:
    """A refused message: ``cause`` is counted on ``/metrics``; ``detail`` is for the log."""

    cause: Cause
    detail: str
    sensor: str | None = None


def check_sensor_id(sensor: object, max_len: int = 128) -> str | None:
    """Why a sensor id is unusable, or None when it is fine.

    Example:
        >>> [check_sensor_id(s) for s in ("t1", "a/b", "#", "")]
        [None, "'/' in sensor id 'a/b'", "'#' in sensor id '#'", 'empty sensor id']
    """
    if not isinstance(sensor, str):
        return f"sensor id must be a string, not {type(sensor).__name__}"
    if not sensor:
        return "empty sensor id"
    if len(sensor) > max_len:
        return f"sensor id longer than {max_len} characters"
    for char in sensor:
        if char in FORBIDDEN_IN_ID:
            return f"{char!r} in sensor id {sensor[:64]!r}"
        if _refused_in_topics(ord(char)):
            return f"character U+{ord(char):04X} in sensor id {sensor[:64]!r} (MQTT brokers refuse it in topics)"
    if sensor.startswith("$"):
        return f"sensor id {sensor[:64]!r} starts with '$' (reserved topics)"
    return None


def _refused_in_topics(code: int) -> bool:
    """Code points Mosquitto refuses in a topic (its UTF-8 check): C0 and C1 controls and DEL,
    surrogates, and the noncharacters U+FDD0..U+FDEF and U+xxFFFE/U+xxFFFF. A forecast topic
    holding one would make the broker drop the connection, for every sensor."""
    return (code <= 0x1F or 0x7F <= code <= 0x9F or 0xD800 <= code <= 0xDFFF or 0xFDD0 <= code <= 0xFDEF
            or (code & 0xFFFF) in (0xFFFE, 0xFFFF))


def topic_sensor(topic: str, rules: ParseRules) -> str | Rejection | None:
    """The sensor id from the ``+`` level of ``topic``; None when the filter has no ``+``."""
    f_levels, t_levels = rules.subscription.split("/"), topic.split("/")
    wild = bool(f_levels) and f_levels[-1] == "#"
    fixed = f_levels[:-1] if wild else f_levels
    if len(t_levels) < len(fixed) or (not wild and len(t_levels) != len(fixed)):
        return Rejection(Cause.BAD_TOPIC, f"topic {topic[:128]!r} does not match {rules.subscription!r}")
    for want, got in zip(fixed, t_levels):
        if want != "+" and want != got:
            return Rejection(Cause.BAD_TOPIC, f"topic {topic[:128]!r} does not match {rules.subscription!r}")
    level = rules.sensor_level
    return None if level is None else t_levels[level]


def _reject_constant(name: str) -> float:
    return float(name)  # NaN / Infinity literals parse, then fail the finiteness check


def _json_int(text: str) -> int | float:
    """A JSON integer; past 30 digits a float (``inf`` when huge), since `int` refuses 4300+ digits."""
    return int(text) if len(text) <= 30 else float(text)


def parse_message(topic: str, payload: bytes, rules: ParseRules, *, now: pd.Timestamp | None = None) -> Reading | Rejection:
    """Turn one MQTT message into a reading, or say why not.

    Args:
        topic: the topic it arrived on.
        payload: the raw payload.
        rules: the expected shape.
        now: the current UTC time, for the future-timestamp check (skipped when None) and
            the timestamp of a message without one under ``rules.arrival_time``.

    Returns:
        A `Reading` or a `Rejection`; never raises for bad input.

    Example:
        >>> rules = ParseRules(subscription="sensors/+/readings", features=["HUFL", "OT"])
        >>> parse_message("sensors/t1/readings", b'{"ts": 0, "values": {"OT": 30.5, "HUFL": 5.0}}', rules)
        Reading(sensor='t1', ts=Timestamp('1970-01-01 00:00:00+0000', tz='UTC'), values=(5.0, 30.5), ignored=(), absent=())
        >>> parse_message("sensors/t1/readings", b'{"time": 1000, "OT": "30.5", "battery": 97}', rules)
        Reading(sensor='t1', ts=Timestamp('1970-01-01 00:16:40+0000', tz='UTC'), values=(nan, 30.5), ignored=('battery',), absent=('HUFL',))
        >>> parse_message("sensors/t1/readings", b'{"ts": 0, "HUFL": 1, "OT": NaN}', rules).cause
        <Cause.NON_FINITE: 'non_finite'>
        >>> parse_message("sensors/t1/readings", b'{"ts": 0, "HUFL": 1, "OT": 2, "sensor": "a/b"}', rules).cause
        <Cause.BAD_SENSOR_ID: 'bad_sensor_id'>
    """
    if len(payload) > rules.max_bytes:
        return Rejection(Cause.OVERSIZED, f"{len(payload)} bytes (limit {rules.max_bytes})")
    from_topic = topic_sensor(topic, rules)
    if isinstance(from_topic, Rejection):
        return from_topic
    try:
        data = json.loads(payload.decode("utf-8"), parse_constant=_reject_constant, parse_int=_json_int)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        return Rejection(Cause.NON_JSON, f"not JSON: {str(exc)[:80]}", from_topic)
    if not isinstance(data, dict):
        return Rejection(Cause.NOT_OBJECT, f"JSON {type(data).__name__}, expected an object", from_topic)
    sensor = _sensor(from_topic, data, rules)
    if isinstance(sensor, Rejection):
        return sensor
    ts_key, ts = _timestamp(data, rules, sensor, now)
    if isinstance(ts, Rejection):
        return ts
    if "values" in data:
        fields = data["values"]
        if not isinstance(fields, dict):
            return Rejection(Cause.WRONG_TYPE, f"'values' must be an object, not {type(fields).__name__}", sensor)
    else:
        fields = {k: v for k, v in data.items() if k not in RESERVED and k != ts_key}
    return _values(data, fields, rules, sensor, ts)


def _timestamp(
    data: dict, rules: ParseRules, sensor: str, now: pd.Timestamp | None
) -> tuple[str | None, pd.Timestamp | Rejection]:
    """The top-level field holding the timestamp (None: the receive time) and its value."""
    path, raw = find_timestamp(data, rules.ts_field, skip=rules.features)
    if raw is MISSING:
        if rules.arrival_time and now is not None:
            return None, now.as_unit("ns")  # a caller's pd.Timestamp("...") is in microseconds
        tried = repr(rules.ts_field) if rules.ts_field else "any of " + ", ".join(TS_FIELDS)
        return None, Rejection(Cause.MISSING_FIELD, f"no timestamp ({tried}); --arrival-time takes the receive time", sensor)
    try:
        ts = to_timestamp(raw)
    except (ForecasterError, OverflowError, ValueError) as exc:
        return None, Rejection(Cause.BAD_TIMESTAMP, str(exc)[:120], sensor)
    if now is not None and ts.value - now.value > rules.max_future_s * NS_PER_SECOND:
        return None, Rejection(Cause.FUTURE_TIMESTAMP, f"ts {ts} is more than {rules.max_future_s:g} s ahead of {now}", sensor)
    return (path if path in data else str(path).split(".", 1)[0]), ts


def _sensor(from_topic: str | None, data: dict, rules: ParseRules) -> str | Rejection:
    """The sensor id from the topic and/or the ``sensor`` field, checked."""
    from_field = data.get("sensor")
    if from_field is None and from_topic is None:
        return Rejection(Cause.MISSING_FIELD, f"no 'sensor' field and no '+' level in {rules.subscription!r}")
    for candidate in (from_topic, from_field):
        if candidate is not None:
            problem = check_sensor_id(candidate, rules.max_sensor_len)
            if problem:
                return Rejection(Cause.BAD_SENSOR_ID, problem)
    if from_topic is not None and from_field is not None and from_field != from_topic:
        return Rejection(Cause.BAD_SENSOR_ID, f"'sensor' field {from_field[:64]!r} disagrees with the topic's {from_topic!r}")
    return from_topic if from_topic is not None else from_field


def _values(data: dict, fields: dict, rules: ParseRules, sensor: str, ts: pd.Timestamp) -> Reading | Rejection:
    """The features' values (NaN when absent or null); unknown fields ignored or refused."""
    paths, used = rules.paths, rules.used_names
    unknown = tuple(sorted(str(k) for k in fields if k not in used))
    if unknown and not rules.ignore_unknown:
        return Rejection(Cause.UNKNOWN_FEATURE, f"unknown field(s) {list(unknown[:5])}; expected {list(rules.features)}", sensor)
    values, absent, present = [], [], 0
    for name in rules.features:
        raw = lookup(data, paths[name]) if name in paths else fields.get(name, MISSING)
        if type(raw) is float and raw - raw == 0.0:  # a finite float: the common case, checked fast
            values.append(raw)
            present += 1
            continue
        if raw is MISSING:
            absent.append(name)
        value = to_number(raw)
        if isinstance(value, str):
            return Rejection(Cause.WRONG_TYPE, f"{name!r} must be a number, not {value}", sensor)
        if value is not None and not math.isfinite(value):
            return Rejection(Cause.NON_FINITE, f"{name!r} is {value}", sensor)
        values.append(math.nan if value is None else value)
        present += value is not None
    if not present:
        where = ", ".join(f"{n}={paths.get(n, n)}" for n in rules.features[:5])
        return Rejection(Cause.MISSING_FEATURE, f"no value for any feature ({where})", sensor)
    return Reading(sensor, ts, tuple(values), unknown, tuple(absent))


def format_timestamp(ts: pd.Timestamp) -> str:
    """ISO 8601 UTC with a ``Z``, and only as many fraction digits as needed.

    Example:
        >>> format_timestamp(pd.Timestamp("2026-11-23 12:00", tz="UTC"))
        '2026-11-23T12:00:00Z'
        >>> format_timestamp(pd.Timestamp(1_500_000_000, unit="ns", tz="UTC"))
        '1970-01-01T00:00:01.5Z'
    """
    ts = ts.tz_convert("UTC") if ts.tzinfo is not None else ts.tz_localize("UTC")
    text = ts.strftime("%Y-%m-%dT%H:%M:%S")
    frac = ts.value % NS_PER_SECOND
    if frac:
        text += "." + f"{frac:09d}".rstrip("0")
    return text + "Z"


def encode_reading(ts: pd.Timestamp, names: Sequence[str], values: Sequence[float]) -> bytes:
    """The JSON payload of one reading (nested form); floats round-trip exactly.

    Example:
        >>> encode_reading(pd.Timestamp(0, tz="UTC"), ["OT"], [0.1])
        b'{"ts": "1970-01-01T00:00:00Z", "values": {"OT": 0.1}}'
    """
    body = {"ts": format_timestamp(ts), "values": {n: float(v) for n, v in zip(names, values)}}
    return json.dumps(body, allow_nan=False).encode()
