"""The shared validators of the settings dataclasses: one rule, one message style.

A failed check raises ``ForecasterError("`name` must be <want>. Received: name=<value>")``.
Used by `WindowSpec`, `forecaster.params.ModelParams`, `BackfillParams` and `Forecaster`.
A `Check` also says what it accepts (``kind``, bounds, ``choices``), so that the command
line derives its option types from the same declaration.

Example:
    >>> integer(1)("horizon", 0)
    Traceback (most recent call last):
    ...
    pipelines.errors.ForecasterError: `horizon` must be a positive integer. Received: horizon=0
    >>> real(0, 1, high_open=True).want, one_of(("lstm", "gru")).want
    ('a float in [0, 1)', "one of ('lstm', 'gru')")
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from dataclasses import dataclass, replace

from pipelines.errors import ForecasterError


def require(name: str, value: object, ok: bool, want: str) -> None:
    """Raise the house message unless ``ok``."""
    if not ok:
        raise ForecasterError(f"`{name}` must be {want}. Received: {name}={value!r}")


@dataclass(frozen=True)
class Check:
    """One rule for an option value: what it wants (for the message) and the test.

    ``kind`` is ``"int"``, ``"float"``, ``"bool"``, ``"choice"`` or ``"text"`` (a `subset`); ``low``/``high`` and
    ``choices`` describe the accepted values; ``optional`` also accepts ``None``.
    """

    want: str
    test: Callable[[object], bool]
    kind: str
    low: float | None = None
    high: float | None = None
    choices: tuple = ()
    optional: bool = False

    def __call__(self, name: str, value: object) -> None:
        if value is None and self.optional:
            return
        require(name, value, self.test(value), self.want)


def is_int(value: object) -> bool:
    """An integer (numpy's too), not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_real(value: object) -> bool:
    """A real number (numpy's too), not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def integer(low: int = 1) -> Check:
    """An integer ``>= low`` ("a positive integer" for 1, "a non-negative integer" for 0)."""
    want = {1: "a positive integer", 0: "a non-negative integer"}.get(low, f"an integer >= {low}")
    return Check(want, lambda v: is_int(v) and v >= low, "int", low=low)


def real(low: float, high: float, *, low_open: bool = False, high_open: bool = False) -> Check:
    """A float between ``low`` and ``high`` (ends included unless open); NaN never passes."""
    want = f"a float in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"

    def test(v: object) -> bool:
        if not is_real(v):
            return False
        return (low < v if low_open else low <= v) and (v < high if high_open else v <= high)

    return Check(want, test, "float", low=low, high=high)


def one_of(choices: tuple) -> Check:
    """One of ``choices``."""
    choices = tuple(choices)
    return Check(f"one of {choices}", lambda v: isinstance(v, str) and v in choices, "choice", choices=choices)


def subset(choices: tuple, alone: tuple = ("none",)) -> Check:
    """A comma-separated subset of ``choices`` without repeats (``"a,b"``), or one of ``alone``.

    Example:
        >>> subset(("hour", "dow"))("calendar", "dow,hour"), subset(("hour",)).want
        (None, "'none' or a comma-separated subset of ('hour',)")
        >>> subset(("hour",), alone=("auto", "none")).want
        "'auto', 'none' or a comma-separated subset of ('hour',)"
    """
    choices = tuple(choices)

    def test(v: object) -> bool:
        if not isinstance(v, str):
            return False
        names = [n.strip() for n in v.split(",")]
        return v.strip() in alone or (all(n in choices for n in names) and len(set(names)) == len(names))

    return Check(f"{', '.join(map(repr, alone))} or a comma-separated subset of {choices}", test, "text", choices=choices)


def boolean() -> Check:
    """``True`` or ``False`` (not 0 or 1)."""
    return Check("True or False", lambda v: isinstance(v, bool), "bool")


def optional(check: Check) -> Check:
    """``check``, or ``None``."""
    return replace(check, optional=True)
