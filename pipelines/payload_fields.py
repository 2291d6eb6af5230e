"""Field rules of device payloads: dotted paths, numbers sent as strings, epoch magnitudes.

Pure helpers of `pipelines.payloads.parse_message`; none of them raises for bad input
except where documented (`parse_map` and `check_path` validate options).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

import pandas as pd

from pipelines.errors import ForecasterError
from pipelines.timeutil import TIME_MAX, TIME_MIN, epoch_unit_name, epoch_unit_ns, outside_range, parse_timestamp

TS_FIELDS = ("ts", "time", "timestamp", "Time", "datetime")  # tried in this order without --ts-field
MISSING = object()  # a path that does not resolve (distinct from JSON null)
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def check_path(path: str, name: str = "path") -> str:
    """Validate a dotted path such as ``SI7021.Temperature``.

    Raises:
        ForecasterError: an empty path or an empty part.

    Example:
        >>> check_path("SI7021.Temperature")
        'SI7021.Temperature'
        >>> check_path("a..b")
        Traceback (most recent call last):
        ...
        pipelines.errors.ForecasterError: `path` must be a dotted path such as SI7021.Temperature. Received: path='a..b'
    """
    if not isinstance(path, str) or not path or any(not part for part in path.split(".")):
        raise ForecasterError(f"`{name}` must be a dotted path such as SI7021.Temperature. Received: {name}={path!r}")
    return path


def parse_map(items: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """``--map FEATURE=PATH`` options as ``(feature, path)`` pairs.

    Raises:
        ForecasterError: an item without ``=``, an empty side, or a feature mapped twice.

    Example:
        >>> parse_map(["T=SI7021.Temperature", " H = SI7021.Humidity "])
        (('T', 'SI7021.Temperature'), ('H', 'SI7021.Humidity'))
        >>> parse_map(["T"])
        Traceback (most recent call last):
        ...
        pipelines.errors.ForecasterError: `--map` must be FEATURE=PATH, e.g. T=SI7021.Temperature. Received: 'T'
    """
    pairs: list[tuple[str, str]] = []
    for item in items:
        feature, sep, path = str(item).partition("=")
        feature, path = feature.strip(), path.strip()
        if not sep or not feature or not path:
            raise ForecasterError(f"`--map` must be FEATURE=PATH, e.g. T=SI7021.Temperature. Received: {item!r}")
        if feature in dict(pairs):
            raise ForecasterError(f"`--map` maps {feature!r} twice")
        pairs.append((feature, check_path(path, "--map")))
    return tuple(pairs)


def lookup(data: object, path: str) -> object:
    """The value at a dotted path, or `MISSING`. A key holding dots matches as a whole first;
    a digit part indexes a list.

    Example:
        >>> msg = {"SI7021": {"Temperature": 21.3}, "a.b": 1, "l": [{"x": 5}]}
        >>> lookup(msg, "SI7021.Temperature"), lookup(msg, "a.b"), lookup(msg, "l.0.x")
        (21.3, 1, 5)
        >>> lookup(msg, "SI7021.Pressure") is MISSING
        True
    """
    if isinstance(data, dict) and path in data:
        return data[path]
    head, dot, rest = path.partition(".")
    if isinstance(data, dict):
        child = data.get(head, MISSING)
    elif isinstance(data, list) and head.isdigit() and int(head) < len(data):
        child = data[int(head)]
    else:
        return MISSING
    if not dot or child is MISSING:
        return child
    return lookup(child, rest)


def to_number(value: object) -> float | None | str:
    """A JSON value as a float; None for a missing value (null, absent, empty string); else
    the name of what it is (a rejection detail).

    Strings holding a decimal number are numbers; other strings, booleans, lists and objects
    are not. Non-finite results (``NaN``, ``1e999``) are returned as floats for the caller to
    refuse.

    Example:
        >>> [to_number(v) for v in (21.5, 3, " 4.5e1 ", None, "", "abc", True)]
        [21.5, 3.0, 45.0, None, None, 'str', 'bool']
    """
    if value is None or value is MISSING:
        return None
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        try:
            return float(value)
        except OverflowError:  # an integer beyond the float range
            return math.inf
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if _NUMBER.fullmatch(text):
            return float(text)
        return "str"
    return type(value).__name__


def epoch_timestamp(value: float | int) -> pd.Timestamp:
    """Epoch seconds, milliseconds, microseconds or nanoseconds, told apart by magnitude.

    Raises:
        ForecasterError: not a number, or a time outside `pipelines.timeutil.TIME_RANGE`.

    Example:
        >>> [str(epoch_timestamp(v)) for v in (1767607200, 1767607200000, 1767607200000000, 1767607200000000000)]
        ['2026-01-05 10:00:00+00:00', '2026-01-05 10:00:00+00:00', '2026-01-05 10:00:00+00:00', '2026-01-05 10:00:00+00:00']
        >>> str(epoch_timestamp(1767607200.5))
        '2026-01-05 10:00:00.500000+00:00'
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ForecasterError(f"not a timestamp: {value!r}")
    scale = epoch_unit_ns(value)
    ns = value * scale if isinstance(value, int) else round(value * scale)
    if not TIME_MIN.value <= ns <= TIME_MAX.value:
        raise ForecasterError(outside_range(f"{value!r} (epoch {epoch_unit_name(value)})"))
    return pd.Timestamp(int(ns), unit="ns", tz="UTC")


def to_timestamp(value: object) -> pd.Timestamp:
    """A timestamp field: epoch (any magnitude, also as a numeric string) or ISO 8601 (no zone: UTC).

    Raises:
        ForecasterError: not a time, or a time outside `pipelines.timeutil.TIME_RANGE`.

    Example:
        >>> str(to_timestamp("2026-01-05T10:00:00")), str(to_timestamp("1767607200000"))
        ('2026-01-05 10:00:00+00:00', '2026-01-05 10:00:00+00:00')
    """
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        text = value.strip()
        number = float(text) if any(c in text for c in ".eE") or len(text) > 24 else int(text)
        if not math.isfinite(number):  # e.g. 400 digits: no int() for them (Python's 4300-digit cap), beyond any float
            raise ForecasterError(outside_range(f"{text[:24]!r}... (epoch)"))
        return epoch_timestamp(number)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return epoch_timestamp(value)
    return parse_timestamp(value)


def find_timestamp(data: dict, ts_field: str | None, skip: Iterable[str] = ()) -> tuple[str | None, object]:
    """The timestamp's path and raw value: ``ts_field`` when given, else the first of
    `TS_FIELDS` present (names in ``skip``, e.g. features, are not timestamps). A null
    timestamp counts as absent.

    Example:
        >>> find_timestamp({"Time": "2026-01-05T10:00:00", "x": 1}, None)
        ('Time', '2026-01-05T10:00:00')
        >>> find_timestamp({"x": 1}, None)[1] is MISSING
        True
    """
    if ts_field is not None:
        value = lookup(data, ts_field)
        return ts_field, (MISSING if value is None else value)
    for name in TS_FIELDS:
        if name not in skip and data.get(name) is not None:
            return name, data[name]
    return None, MISSING
