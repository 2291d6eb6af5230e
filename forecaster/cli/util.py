"""Small helpers shared by the command modules (no TensorFlow)."""

from __future__ import annotations

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
