"""Small helpers shared by the command modules (no TensorFlow)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import Field, fields
from typing import Any

import click


def split_names(value: str | None) -> list[str] | None:
    """Column names from a comma-separated option value (None when the option is absent).

    Example:
        >>> split_names("a, b,")
        ['a', 'b']
    """
    if value is None:
        return None
    names = [v.strip() for v in value.split(",") if v.strip()]
    if not names:
        raise click.BadParameter("give at least one column name")
    return names


def declared_options(settings: type) -> Callable[[Callable], Callable]:
    """Click options for every field of a settings dataclass, from its declaration
    (`forecaster.params.option`: default, check, help): ``units`` becomes ``--units``, a
    boolean ``conv`` becomes ``--conv/--no-conv``, a choice a `click.Choice`, an integer an
    `click.IntRange` of its lower bound; floats are checked by the dataclass itself."""

    def decorate(command: Callable) -> Callable:
        for f in reversed(fields(settings)):
            command = _option(f)(command)
        return command

    return decorate


def _option(f: Field) -> Callable[[Callable], Callable]:
    check, flag = f.metadata["check"], "--" + f.name.replace("_", "-")
    kwargs: dict[str, Any] = {"default": f.default, "show_default": f.default is not None, "help": f.metadata["help"]}
    if check.kind == "bool":
        return click.option(f"{flag}/--no-{flag[2:]}", f.name, **kwargs)
    if check.kind == "choice":
        kwargs["type"] = click.Choice(check.choices)
    elif check.kind == "int":
        kwargs["type"] = click.IntRange(min=check.low)
    else:
        kwargs["type"] = float
    return click.option(flag, f.name, **kwargs)
