"""The full check of a state file before any of it is loaded: types, shapes, finite values,
sensor ids (the payloads' own rule) and slots not in the future.

A state file is the daemon's own output, so a failure here means damage or tampering: the
file is refused in one line, never half-loaded.
"""

from __future__ import annotations

import base64
import binascii
import math
from typing import Any

import numpy as np

from pipelines.payloads import check_sensor_id
from pipelines.stream import WindowRegistry

MAX_FUTURE_NS = 24 * 3600 * 10**9  # a slot this far past the clock is refused (a wrong clock or a damaged file)


def encode_rows(state: dict) -> dict:
    """A window state with its rows array as ``rows_b64`` (little-endian float64, base64): a
    thousand windows encode in milliseconds, where nested JSON lists take half a second."""
    rows = state.get("rows")
    if not isinstance(rows, np.ndarray):
        return state
    encoded = {k: v for k, v in state.items() if k != "rows"}
    encoded["rows_b64"] = base64.b64encode(np.ascontiguousarray(rows, dtype="<f8").tobytes()).decode("ascii")
    return encoded


def decode_rows(body: dict, n_columns: int) -> str | None:
    """Turn every window's ``rows_b64`` back into a ``rows`` array, in place; why one cannot be
    decoded, or None.

    Example:
        >>> body = {"windows": {"a": encode_rows({"last_slot": 1, "rows": np.array([[1.0], [2.0]])})}}
        >>> decode_rows(body, 1), body["windows"]["a"]["rows"].tolist()
        (None, [[1.0], [2.0]])
    """
    windows = body.get("windows")
    if not isinstance(windows, dict):
        return None  # check_state_body says why
    for sensor, state in windows.items():
        if not isinstance(state, dict) or "rows_b64" not in state:
            continue
        try:
            raw = base64.b64decode(state.pop("rows_b64"), validate=True)
        except (binascii.Error, ValueError, TypeError):
            return f"sensor {str(sensor)[:64]!r}: 'rows_b64' is not base64"
        if len(raw) % (8 * n_columns):
            return f"sensor {str(sensor)[:64]!r}: 'rows_b64' does not hold rows of {n_columns} values"
        state["rows"] = np.frombuffer(raw, dtype="<f8").reshape(-1, n_columns).astype("float64")
    return None


def check_state_body(body: dict, registry: WindowRegistry, *, now_ns: int) -> str | None:
    """Why a parsed state file cannot be loaded into ``registry``, or None when it can.

    Example:
        >>> reg = WindowRegistry(length=2, n_columns=1, step_ns=10, max_gap=0)
        >>> check_state_body({"windows": {"a": {"last_slot": 1, "rows": [[1.0], [2.0]]}}}, reg, now_ns=100)
        >>> check_state_body({"windows": {"a": {"last_slot": 1, "rows": [[1.0], [None]]}}}, reg, now_ns=100)
        "sensor 'a': rows[1][0] is not a finite number"
    """
    windows = body.get("windows")
    if not isinstance(windows, dict):
        return "'windows' is not an object"
    seq = body.get("journal_seq", 0)
    if type(seq) is not int or seq < 0:
        return "'journal_seq' is not a non-negative integer"
    settings = registry.settings
    newest_slot = (now_ns + MAX_FUTURE_NS) // settings["step_ns"]
    for sensor, state in windows.items():
        why = check_sensor_id(sensor)
        if why:
            return f"sensor id {sensor[:64]!r}: {why}"
        problem = _check_window(state, settings, newest_slot)
        if problem:
            return f"sensor {sensor[:64]!r}: {problem}"
    return None


def _check_window(state: Any, settings: dict, newest_slot: int) -> str | None:
    """Why one sensor's saved window is unusable, or None."""
    if not isinstance(state, dict):
        return "not an object"
    rows = state.get("rows")
    if isinstance(rows, np.ndarray):  # decoded from rows_b64: shape checked there
        if len(rows) > settings["length"]:
            return f"'rows' is not a list of at most {settings['length']} rows"
        if not np.isfinite(rows).all():
            return f"rows[{int(np.flatnonzero(~np.isfinite(rows).all(axis=1))[0])}] holds a value that is not a finite number"
    elif not isinstance(rows, list) or len(rows) > settings["length"]:
        return f"'rows' is not a list of at most {settings['length']} rows"
    else:
        for i, row in enumerate(rows):
            problem = _check_row(row, settings["n_columns"], f"rows[{i}]", allow_missing=False)
            if problem:
                return problem
    for key in ("last_slot", "final_slot", "pending_slot"):
        slot = state.get(key)
        if slot is not None and (type(slot) is not int or slot > newest_slot):
            return f"'{key}' {slot!r} is not a slot before the clock's"
    if len(rows) and state.get("last_slot") is None:
        return "rows without a 'last_slot'"
    return _check_pending(state, settings)


def _check_pending(state: dict, settings: dict) -> str | None:
    """Why the pending readings of an aggregated slot are unusable, or None."""
    pending = state.get("pending", [])
    if not isinstance(pending, list):
        return "'pending' is not a list"
    if pending and state.get("pending_slot") is None:
        return "'pending' readings without a 'pending_slot'"
    for i, item in enumerate(pending):
        if not (isinstance(item, list) and len(item) == 2 and type(item[0]) is int):
            return f"pending[{i}] is not a [time, values] pair"
        if item[0] // settings["step_ns"] != state["pending_slot"]:
            return f"pending[{i}] is not in the pending slot"
        problem = _check_row(item[1], settings["n_columns"], f"pending[{i}]", allow_missing=True)
        if problem:
            return problem
    return None


def _check_row(row: Any, n_columns: int, where: str, *, allow_missing: bool) -> str | None:
    if not isinstance(row, list) or len(row) != n_columns:
        return f"{where} is not a list of {n_columns} values"
    for j, value in enumerate(row):
        if value is None and allow_missing:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return f"{where}[{j}] is not a finite number"
    return None
