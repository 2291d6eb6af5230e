"""Small helpers shared by the command modules (no TensorFlow)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import Field, fields
from typing import Any

import click
from click.core import ParameterSource

from pipelines.errors import ForecasterError


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


def declared_options(settings: type, deprecated: dict[str, str] | None = None) -> Callable[[Callable], Callable]:
    """Click options for every field of a settings dataclass, from its declaration
    (`forecaster.params.option`: default, check, help): ``units`` becomes ``--units``, a
    boolean ``conv`` becomes ``--conv/--no-conv``, a choice a `click.Choice`, an integer an
    `click.IntRange` of its lower bound; floats are checked by the dataclass itself.
    ``deprecated`` maps old names to fields: each becomes a hidden option of the field's type,
    default ``None`` (`deprecated_values` reads them)."""
    by_name = {f.name: f for f in fields(settings)}

    def decorate(command: Callable) -> Callable:
        for old, new in (deprecated or {}).items():
            command = click.option(f"--{old.replace('_', '-')}", old, default=None, hidden=True,
                                   type=_type_of(by_name[new]), help=f"Deprecated name of {_flag(new)}.")(command)
        for f in reversed(fields(settings)):
            command = _option(f)(command)
        return command

    return decorate


def deprecated_values(values: dict[str, Any], deprecated: dict[str, str]) -> dict[str, Any]:
    """``values`` (a command's options) with each deprecated option given moved to its new name,
    with a one-line warning on stderr; giving both (the new one not at its default) is an error."""
    values = dict(values)
    context = click.get_current_context()
    for old, new in deprecated.items():
        value = values.pop(old, None)
        if value is None:
            continue
        click.echo(f"forecaster: warning: {_flag(old)} is deprecated and will be removed; use {_flag(new)}",
                   err=True)
        if context.get_parameter_source(new) is not ParameterSource.DEFAULT and values[new] != value:
            raise ForecasterError(f"{_flag(new)} {values[new]} and {_flag(old)} {value}: give {_flag(new)} only "
                                  f"({_flag(old)} is its deprecated name)")
        values[new] = value
    return values


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _type_of(f: Field) -> Any:
    check = f.metadata["check"]
    if check.kind == "choice":
        return click.Choice(check.choices)
    if check.kind == "int":
        return click.IntRange(min=check.low)
    return {"float": float, "bool": bool, "text": str}[check.kind]


def _option(f: Field) -> Callable[[Callable], Callable]:
    flag = _flag(f.name)
    kwargs: dict[str, Any] = {"default": f.default, "show_default": f.default is not None, "help": f.metadata["help"]}
    if f.metadata["check"].kind == "bool":
        return click.option(f"{flag}/--no-{flag[2:]}", f.name, **kwargs)
    return click.option(flag, f.name, type=_type_of(f), **kwargs)


def stacked(*decorators: Callable[[Callable], Callable]) -> Callable[[Callable], Callable]:
    """One decorator that applies ``decorators`` as if written one above the other."""

    def apply(command: Callable) -> Callable:
        for decorator in reversed(decorators):
            command = decorator(command)
        return command

    return apply


training_input = stacked(
    click.option("--data", required=True, type=click.Path(dir_okay=False), help="Training CSV."),
    click.option("--out", required=True, type=click.Path(file_okay=False), help="Bundle directory to write."),
    click.option("--time-col", default=None,
                 help="Time column, or two to join such as Date,Time [default: ts/time/timestamp/date/datetime, "
                      "else the first]."),
    click.option("--sensor-col", default=None, help="Sensor id column of a long file [default: 'sensor' if present]."),
)
"""The CSV and bundle options of the commands that train (``train``, ``train-backfill``)."""

training_split = stacked(
    click.option("--freq", default=None, help="Cadence such as 1h or 15min [default: inferred]."),
    click.option("--val", default=0.1, show_default=True, type=float, help="Validation fraction of the time span."),
    click.option("--test", default=0.2, show_default=True, type=float,
                 help="Test fraction of the time span (the latest)."),
    click.option("--train-end", default=None,
                 help="Explicit end of the training split (ISO time; wins over --val/--test)."),
    click.option("--val-end", default=None, help="Explicit end of the validation split (ISO time)."),
)
"""The cadence and split options of the commands that train."""


def _separator(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    from pipelines.dialect import separator

    try:
        return None if value is None else separator(value)
    except ForecasterError:
        raise click.BadParameter(f"{value!r} is not one of ',', ';', 'tab', '|'") from None


csv_format = stacked(
    click.option("--sep", default=None, callback=_separator,
                 help="Column separator: , ; tab or | [default: detected from the first lines]."),
    click.option("--decimal", default=None, type=click.Choice([".", ","]),
                 help="Decimal mark [default: ',' when the numbers are written 2,6 in a file not separated by ',']."),
    click.option("--missing", multiple=True, metavar="CODE",
                 help="A number that means no reading, e.g. -200 (repeatable; compared as numbers: -200,0 matches)."),
    click.option("--time-format", default=None,
                 help="strftime codes for unusual times, e.g. '%d/%m/%Y %H.%M.%S' [default: ISO 8601, epoch "
                      "s/ms by magnitude, or day/month/year detected]."),
    click.option("--dayfirst/--monthfirst", default=None,
                 help="Dates like 03/04/2026 are day/month (--dayfirst) or month/day [default: detected]."),
)
"""How a CSV is written (separator, decimal mark, missing codes, time format): every command
that reads a CSV (``train``, ``predict``, ``evaluate``, ``train-backfill``, ``backfill``,
``replay``); `csv_keywords` turns them into the keywords of `pipelines.read_csv`."""

csv_aggregate = click.option(
    "--aggregate", default="error", show_default=True, type=click.Choice(["error", "mean", "last", "first", "min",
                                                                          "max", "sum"]),
    help="Several readings of a sensor in one --freq slot: combine them this way (error: refuse them).",
)
"""The aggregate rule of the commands that put a CSV on the cadence grid
(`pipelines.readings.aggregate_slots`)."""


def csv_keywords(o: dict[str, Any]) -> dict[str, Any]:
    """The `pipelines.read_csv` keywords of a command's `csv_format` (and `csv_aggregate`) options."""
    keys = ("sep", "decimal", "missing", "time_format", "dayfirst", "aggregate")
    return {k: o[k] for k in keys if k in o}


def missing_summary(frame: Any) -> str:
    """One line: how many value cells of a `read_csv` frame hold no reading.

    Example:
        >>> import types
        >>> missing_summary(types.SimpleNamespace(attrs={"missing_cells": 5, "coded_cells": 3, "source": "a.csv"}))
        'missing: 5 cells in a.csv without a reading (3 equal to a --missing code)'
    """
    a = frame.attrs
    return (f"missing: {a.get('missing_cells', 0)} cells in {a.get('source')} without a reading "
            f"({a.get('coded_cells', 0)} equal to a --missing code)")


def check_levels(bundle: str, meta: dict, levels: Any) -> None:
    """Interval levels the bundle (its checked ``bundle.json``) was calibrated at, checked before
    any work: one line naming the levels it has otherwise."""
    from pipelines.conformal import level_key

    if not levels:
        return
    if "intervals" not in meta:
        raise ForecasterError(f"{bundle}: this model has no prediction intervals (its bundle predates them, or it "
                              "was trained with --intervals none); retrain it to get them")
    calibrated = sorted(meta["intervals"].get("levels", {}), key=float)
    for key in (level_key(level) for level in levels):
        if key not in calibrated:
            raise ForecasterError(f"{bundle}: no interval at level {key}; calibrated levels: "
                                  f"{', '.join(calibrated) or 'none'}")
