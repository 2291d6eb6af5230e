"""The state file: the daemon's windows saved at shutdown and restored at start.

The windows are a cache of the last readings: a file written for another model (other
input length, features, cadence or gap rule) is ignored with a warning, while a file that
cannot be read is an error (the user decides whether to remove it).
With ``--aggregate``, the readings of each sensor's pending slot are saved too, and the slot
is finalised after the restart as it would have been (a later reading, or its grace passing);
a file with pending readings loaded without ``--aggregate`` drops them with a warning.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from pipelines.errors import ForecasterError
from pipelines.stream import WindowRegistry

log = logging.getLogger(__name__)

STATE_VERSION = 1


def _fingerprint(model) -> dict:
    spec = model.spec
    return {"input_steps": spec.input_steps, "features": list(spec.features), "freq": model.freq_, "max_gap": model.max_gap}


def save_state(path: str | Path, registry: WindowRegistry, model) -> None:
    """Write the windows atomically (a temporary file, then rename)."""
    path = Path(path)
    body = {"version": STATE_VERSION, "model": _fingerprint(model), "windows": registry.to_dict()}
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(body, allow_nan=False))
    os.replace(tmp, path)


def restore_state(path: str | Path, registry: WindowRegistry, model) -> int:
    """Load windows saved by `save_state`; returns how many sensors came back.

    A missing file restores nothing; a file for another model's windows is ignored with a
    warning (the windows are a cache); an unreadable file is an error.

    Raises:
        ForecasterError: the file cannot be read, or holds windows that do not load.
    """
    path = Path(path)
    if not path.exists():
        return 0
    try:
        body = json.loads(path.read_text())
        windows = body["windows"]
        same = body.get("version") == STATE_VERSION and body.get("model") == _fingerprint(model)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ForecasterError(f"{path}: unreadable state file ({exc}); remove it to start with empty windows") from None
    if not same:
        log.warning("%s: saved for another model or version; starting with empty windows", path)
        return 0
    try:
        dropped = registry.restore(windows)
    except (ValueError, KeyError, TypeError) as exc:
        raise ForecasterError(f"{path}: bad window state ({exc}); remove it to start with empty windows") from None
    if dropped:
        log.warning("%s: %d reading(s) of pending slots dropped (saved with --aggregate, which is not set now)", path, dropped)
    return len(windows)
