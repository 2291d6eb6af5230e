"""The time column of a CSV file: one or two columns of text to UTC timestamps.

The rule, in order: an explicit ``time_format`` (strftime codes); numbers are epoch
seconds, milliseconds, microseconds or nanoseconds, recognised by magnitude; dates written
day/month/year or month/day/year (``10/03/2004``, ``10.03.2004 18.00.00``) with the order
detected from the values or given with ``dayfirst``; else ISO 8601. Naive times are UTC.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from pipelines.errors import DataError
from pipelines.timeutil import TIME_MAX, TIME_MIN, epoch_unit_name, epoch_unit_ns, outside_range

log = logging.getLogger(__name__)

_DMY = r"(?P<a>\d{1,2})(?P<sep>[./-])(?P<b>\d{1,2})(?P=sep)(?P<year>\d{4}|\d{2})(?:[ T]+(?P<clock>.*))?"


def joined_text(raw: pd.DataFrame, columns: Sequence[str]) -> pd.Series:
    """The text of one or more time columns, joined with a space (``Date`` + ``Time``)."""
    parts = [raw[c].astype("string").str.strip() for c in columns]
    text = parts[0]
    for part in parts[1:]:
        text = text + " " + part
    return text


def epoch_ns(numbers: np.ndarray) -> np.ndarray:
    """Epoch numbers to int64 nanoseconds, the unit chosen by the largest magnitude (the
    numbers must be finite and the times inside `pipelines.timeutil.TIME_RANGE`).

    Example:
        >>> epoch_ns(np.array([1_700_000_000.0])), epoch_ns(np.array([1_700_000_000_000.0]))
        (array([1700000000000000000]), array([1700000000000000000]))
    """
    largest = float(np.nanmax(np.abs(numbers))) if len(numbers) else 0.0
    per_unit = epoch_unit_ns(largest)
    if np.all(numbers == np.round(numbers)) and largest < 2**62 // per_unit:
        return numbers.astype("int64") * per_unit
    return np.round(numbers * per_unit).astype("int64")


def parse_times(
    text: pd.Series, *, time_format: str | None = None, dayfirst: bool | None = None,
    source: str | None = None, column: str | None = None,
) -> pd.Series:
    """Parse a time column (see the module rule) to ``datetime64[ns, UTC]``.

    Raises:
        DataError: at the first cell that is not a time or is outside
            `pipelines.timeutil.TIME_RANGE`, or when day/month order cannot be told from
            the values (pass ``dayfirst``).

    Example:
        >>> t = parse_times(pd.Series(["13/01/2026 18.00.00", "14/01/2026 9:30"]))
        >>> [str(x) for x in t]
        ['2026-01-13 18:00:00+00:00', '2026-01-14 09:30:00+00:00']
    """
    text = text.astype("string").str.strip()
    numbers = pd.to_numeric(text, errors="coerce")
    if time_format is not None:
        parsed = _with_format(text, time_format, source=source, column=column)
    elif len(text) and numbers.notna().all():
        return _epoch_times(text, numbers.to_numpy(dtype="float64"), source=source, column=column)
    else:
        iso = text
        first = text.dropna().head(1)
        if len(first) and pd.notna(numbers[first.index[0]]):
            _refuse_odd(text, numbers.isna().to_numpy(), "an epoch number", source=source, column=column)
        parts = text.str.extract(f"^{_DMY}$") if len(first) and re.fullmatch(_DMY, first.iloc[0]) else None
        if parts is not None:
            _refuse_odd(text, parts["a"].isna().to_numpy(), "a day/month/year date", source=source, column=column)
            iso = _iso_from_dmy(parts, dayfirst, source=source, column=column)
        parsed = pd.to_datetime(iso, format="ISO8601", utc=True, errors="coerce")
    _check_parsed(text, parsed, time_format, source=source, column=column)
    return parsed.astype("datetime64[ns, UTC]")


def _refuse_odd(text: pd.Series, odd: np.ndarray, kind: str, *, source: str | None, column: str | None) -> None:
    """Raise at the first cell not written like the column's first time (which is ``kind``)."""
    if odd.any():
        row = int(np.argmax(odd))
        raw = "" if pd.isna(text.iloc[row]) else str(text.iloc[row])
        raise DataError(f"cannot parse time {raw!r} (the column's first time is {kind})", source=source,
                        line=int(text.index[row]), column=column)


def _with_format(text: pd.Series, time_format: str, *, source: str | None, column: str | None) -> pd.Series:
    """``text`` parsed with strftime codes (NaT where a cell does not match)."""
    try:
        return pd.to_datetime(text, format=time_format, utc=True, errors="coerce")
    except (ValueError, re.error) as exc:  # a format pandas cannot use, e.g. "%Q" or "%Y%Y"
        raise DataError(f"cannot use --time-format {time_format!r}: {exc}", source=source, column=column) from None


def _check_parsed(
    text: pd.Series, parsed: pd.Series, time_format: str | None, *, source: str | None, column: str | None
) -> None:
    """Raise at the first cell that is no time (NaT) or a time outside the supported range."""
    outside = (parsed.notna() & ((parsed < TIME_MIN) | (parsed > TIME_MAX))).to_numpy()
    bad = parsed.isna().to_numpy() | outside
    if not bad.any():
        return
    row = int(np.argmax(bad))
    raw = text.iloc[row]
    raw = "" if pd.isna(raw) else str(raw)
    if outside[row]:
        raise DataError(outside_range(repr(raw)), source=source, line=int(text.index[row]), column=column)
    want = (f"want --time-format {time_format!r}" if time_format else
            "want ISO 8601, epoch seconds or milliseconds, or day/month/year; else give --time-format")
    raise DataError(f"cannot parse time {raw!r} ({want})", source=source, line=int(text.index[row]), column=column)


def _epoch_times(text: pd.Series, numbers: np.ndarray, *, source: str | None, column: str | None) -> pd.Series:
    """Epoch numbers (unit by the largest magnitude) to UTC times, refusing any outside the range."""
    finite = np.isfinite(numbers)
    largest = float(np.max(np.abs(numbers[finite]))) if finite.any() else 0.0
    per_unit = epoch_unit_ns(largest)
    with np.errstate(over="ignore", invalid="ignore"):
        ns = numbers * float(per_unit)
        bad = ~finite | (ns < TIME_MIN.value) | (ns > TIME_MAX.value)
    if bad.any():
        row = int(np.argmax(bad))
        reason = (outside_range(f"{text.iloc[row]!r} (epoch {epoch_unit_name(largest)})") if finite[row]
                  else f"cannot parse time {text.iloc[row]!r} (not a finite number)")
        raise DataError(reason, source=source, line=int(text.index[row]), column=column)
    return pd.Series(pd.to_datetime(epoch_ns(numbers), unit="ns", utc=True), index=text.index)


def _iso_from_dmy(parts: pd.DataFrame, dayfirst: bool | None, *, source: str | None, column: str | None) -> pd.Series:
    """``dd/mm/yyyy [clock]`` (or month first) rewritten as ``yyyy-mm-dd [clock]``."""
    a, b = parts["a"].astype(int), parts["b"].astype(int)
    if dayfirst is None:
        dayfirst = _day_first(a, b, parts, source=source, column=column)
        log.info("%s: dates in %r read %s (detected)", source, column, "day first" if dayfirst else "month first")
    day, month = (a, b) if dayfirst else (b, a)
    year = parts["year"].astype(int)
    year = year.where(parts["year"].str.len() == 4, year + np.where(year < 69, 2000, 1900))
    date = year.astype(str).str.zfill(4) + "-" + month.astype(str).str.zfill(2) + "-" + day.astype(str).str.zfill(2)
    clock = parts["clock"].fillna("").str.strip()
    clock = clock.str.replace(r"^(\d{1,2})[.:](\d{2})(?:[.:](\d{2}))?", _clock, regex=True)
    return (date + " " + clock).str.strip()


def _clock(match) -> str:
    """``9.30`` / ``18.00.00`` / ``9:30`` as ``HH:MM:SS``."""
    hour, minute, second = match.group(1), match.group(2), match.group(3) or "00"
    return f"{int(hour):02d}:{minute}:{second}"


def _day_first(a: pd.Series, b: pd.Series, parts: pd.DataFrame, *, source: str | None, column: str | None) -> bool:
    """Day first when a first number exceeds 12, month first when a second one does; dotted
    dates (``10.03.2004``) are day first by convention; otherwise the order is ambiguous."""
    if (a > 12).any() and not (b > 12).any():
        return True
    if (b > 12).any() and not (a > 12).any():
        return False
    if not (a > 12).any() and (parts["sep"] == ".").all():
        return True
    example = f"{a.iloc[0]:02d}{parts['sep'].iloc[0]}{b.iloc[0]:02d}"
    raise DataError(f"cannot tell whether dates such as {example!r} are day/month or month/day; "
                    "pass --dayfirst or --monthfirst", source=source, column=column)
