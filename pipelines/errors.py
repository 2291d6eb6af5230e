"""The one exception family of the project.

`pipelines` cannot import `forecaster`, so the family lives here and `forecaster`
re-exports it. The CLI turns any `ForecasterError` into exit code 2 and one line.
"""

from __future__ import annotations


class ForecasterError(ValueError):
    """Bad input or bad usage: a message meant for the user, never a bug."""


class DataError(ForecasterError):
    """Input data that cannot be used, located as precisely as we can.

    Example:
        >>> str(DataError("not a number: 'x'", source="a.csv", line=7, column="OT"))
        "a.csv, line 7, column 'OT': not a number: 'x'"
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        line: int | None = None,
        column: str | None = None,
        sensor: str | None = None,
    ) -> None:
        self.reason = message
        self.source = source
        self.line = line
        self.column = column
        self.sensor = sensor
        where = []
        if source:
            where.append(str(source))
        if sensor is not None:
            where.append(f"sensor {sensor!r}")
        if line is not None:
            where.append(f"line {line}")
        if column is not None:
            where.append(f"column {column!r}")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


STALE_KINDS = ("duplicate", "out_of_order")


class StaleReading(ForecasterError):
    """A streamed reading that is not newer than the last one of its sensor.

    Args:
        message: what happened, for the log.
        kind: ``"duplicate"`` (the same slot again, e.g. a QoS 1 redelivery) or
            ``"out_of_order"`` (an earlier slot); callers decide on this, not on the text.

    Example:
        >>> StaleReading("duplicate reading: slot 3 is not after 3", kind="duplicate").kind
        'duplicate'
        >>> StaleReading("late", kind="late")
        Traceback (most recent call last):
        ...
        ValueError: `kind` must be one of ('duplicate', 'out_of_order'). Received: kind='late'
    """

    def __init__(self, message: str, *, kind: str) -> None:
        if kind not in STALE_KINDS:
            raise ValueError(f"`kind` must be one of {STALE_KINDS}. Received: kind={kind!r}")
        super().__init__(message)
        self.kind = kind
