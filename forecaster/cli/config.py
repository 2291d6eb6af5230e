"""Command-line configuration: TOML file values as Click defaults.

Precedence: built-in defaults < TOML (``--config``) < ``FORECASTER_<COMMAND>_<OPTION>``
environment variables < flags. A TOML file may hold top-level keys (applied to every
command that has such an option) and one table per command:

    epochs = 20            # every command with --epochs
    [serve]
    broker = "mqtt://127.0.0.1:1883"
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from pipelines.errors import ForecasterError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML config file.

    Raises:
        ForecasterError: missing or invalid file.
    """
    path = Path(path)
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ForecasterError(f"{path}: no such config file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ForecasterError(f"{path}: invalid TOML: {exc}") from None


def default_map(config: dict[str, Any], commands: dict[str, set[str]]) -> dict[str, dict[str, Any]]:
    """Click ``default_map`` from a config: per command, the keys it knows.

    Args:
        config: the parsed TOML.
        commands: each command's option names (Python identifiers).

    Raises:
        ForecasterError: a key that no command knows (a typo would otherwise be ignored).

    Example:
        >>> default_map({"epochs": 3, "serve": {"broker": "mqtt://h"}}, {"train": {"epochs"}, "serve": {"broker"}})
        {'train': {'epochs': 3}, 'serve': {'broker': 'mqtt://h'}}
    """
    out: dict[str, dict[str, Any]] = {name: {} for name in commands}
    known_everywhere = set().union(*commands.values()) if commands else set()
    for key, value in config.items():
        if isinstance(value, dict):
            if key not in commands:
                raise ForecasterError(f"config: unknown command table [{key}]")
            for option, setting in value.items():
                option = option.replace("-", "_")
                if option not in commands[key]:
                    raise ForecasterError(f"config: [{key}] has no option {option!r}")
                out[key][option] = setting
        else:
            option = key.replace("-", "_")
            if option not in known_everywhere:
                raise ForecasterError(f"config: no command has an option {key!r}")
            for name, options in commands.items():
                if option in options:
                    out[name].setdefault(option, value)
    return out
