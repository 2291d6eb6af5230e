"""The dialect of a CSV file: its separator, its decimal mark and its missing-value codes.

Detected from the first lines unless given: the separator is the one of ``, ; tab |`` that
splits the header into the most columns and every sampled data line into as many; the decimal
mark is a comma when the separator is not one and numbers are written ``2,6`` (never ``2.6``).
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pipelines.errors import DataError, ForecasterError

log = logging.getLogger(__name__)

SEPARATORS = {",": ",", ";": ";", "|": "|", "tab": "\t", "\t": "\t", "\\t": "\t"}
"""Accepted spellings of a separator (``tab``, ``\\t`` or a real tab for a tab)."""
DECIMALS = (".", ",")
SAMPLE_LINES = 50
MAX_COLUMNS = 10_000
"""The widest header read: a file with more columns is refused from its first line, before the
rest is read (a 10^6-column header would otherwise take minutes and gigabytes)."""
_COMMA_NUMBER = re.compile(r"[+-]?\d+,\d+")
_DOT_NUMBER = re.compile(r"[+-]?\d*\.\d+(?:[eE][+-]?\d+)?")


@dataclass(frozen=True)
class Dialect:
    """How a file is written: ``sep`` and ``decimal`` as single characters, ``detected``
    says whether the separator was found rather than given."""

    sep: str
    decimal: str
    detected: bool

    @property
    def sep_name(self) -> str:
        """The separator as a user writes it (``tab`` for a tab)."""
        return "tab" if self.sep == "\t" else self.sep


def separator(value: str) -> str:
    """The separator character of a user's spelling.

    Raises:
        ForecasterError: for anything but ``, ; | tab``.

    Example:
        >>> separator("tab") == "\\t", separator(";")
        (True, ';')
    """
    if value not in SEPARATORS:
        raise ForecasterError(f"`sep` must be one of ',', ';', 'tab', '|'. Received: sep={value!r}")
    return SEPARATORS[value]


def missing_codes(codes: Iterable[object] | None) -> tuple[float, ...]:
    """Missing-value codes as numbers (``"-200,0"`` and ``"-200.0"`` are both ``-200.0``).

    Raises:
        ForecasterError: for a code that is not a number.

    Example:
        >>> missing_codes(["-200", "-999,0", 9999])
        (-200.0, -999.0, 9999.0)
    """
    out = []
    for code in codes or ():
        try:
            number = float(code.strip().replace(",", ".")) if isinstance(code, str) else float(code)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise ForecasterError(f"a missing-value code must be a number. Received: {code!r}") from None
        out.append(number)
    return tuple(out)


def detect(path: Path, *, sep: str | None = None, decimal: str | None = None) -> Dialect:
    """The dialect of a file (given values win; each is checked).

    Raises:
        ForecasterError: an unknown ``sep`` or ``decimal``, or a decimal comma in a
            comma-separated file.
        DataError: only one column found (naming the separator tried and ``--sep``).
    """
    given = None if sep is None else separator(sep)
    if decimal is not None and decimal not in DECIMALS:
        raise ForecasterError(f"`decimal` must be '.' or ','. Received: decimal={decimal!r}")
    lines = _sample(path, given)
    chosen = given or _sniff(lines)
    if decimal == "," and chosen == ",":
        raise ForecasterError(f"{path}: a decimal comma needs another separator (--sep ';', tab or '|')")
    dialect = Dialect(sep=chosen or ",", decimal=decimal or _decimal_of(lines, chosen or ","), detected=given is None)
    if chosen is None or len(_fields(lines[0], dialect.sep)) < 2:
        tried = "tried , ; tab |" if given is None else f"separator {dialect.sep_name!r} (--sep)"
        raise DataError(
            f"only one column found ({tried}): {lines[0][:60]!r}; name the separator with --sep (, ; tab |)",
            source=str(path), line=1,
        )
    log.info("%s: separator %r (%s), decimal mark %r", path, dialect.sep_name,
             "detected" if dialect.detected else "given", dialect.decimal)
    return dialect


def _sample(path: Path, sep: str | None = None) -> list[str]:
    """The header (checked against `MAX_COLUMNS`) and up to `SAMPLE_LINES` data lines (blank
    lines skipped)."""
    lines: list[str] = []
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            for line in handle:
                if line.strip():
                    lines.append(line.rstrip("\r\n"))
                    if len(lines) == 1:
                        _check_width(lines[0], sep, path)
                if len(lines) > SAMPLE_LINES:
                    break
    except UnicodeDecodeError as exc:
        raise DataError(f"not a readable CSV file: {exc}", source=str(path)) from None
    if not lines:
        raise DataError("empty file: no header row", source=str(path))
    return lines


def _check_width(header: str, sep: str | None, path: Path) -> None:
    """Refuse a header of more than `MAX_COLUMNS` columns under the given separator (or any
    candidate, as detection would try each); counted by characters first, parsed only when
    the count is over the limit (quoted separators do not count)."""
    for candidate in (sep,) if sep else (",", ";", "\t", "|"):
        if header.count(candidate) >= MAX_COLUMNS:
            width = len(_fields(header, candidate))
            if width > MAX_COLUMNS:
                name = "tab" if candidate == "\t" else candidate
                raise DataError(f"the header has {width} columns separated by {name!r}, more than the limit of "
                                f"{MAX_COLUMNS} (pipelines.dialect.MAX_COLUMNS)", source=str(path), line=1)


def _fields(line: str, sep: str) -> list[str]:
    try:
        return next(csv.reader(io.StringIO(line), delimiter=sep), [])
    except csv.Error:
        return [line]


def _sniff(lines: list[str]) -> str | None:
    """The candidate giving the header the most columns, if most data lines have as many
    (a malformed line is reported later with its number)."""
    best, width = None, 1
    for candidate in (",", ";", "\t", "|"):
        n = len(_fields(lines[0], candidate))
        agree = sum(len(_fields(line, candidate)) == n for line in lines[1:])
        if n > width and 2 * agree >= len(lines) - 1:
            best, width = candidate, n
    return best


def _decimal_of(lines: list[str], sep: str) -> str:
    """``,`` when the data lines write numbers with a decimal comma and never with a point."""
    if sep == ",":
        return "."
    cells = [cell.strip() for line in lines[1:] for cell in _fields(line, sep)]
    comma = any(_COMMA_NUMBER.fullmatch(c) for c in cells)
    dot = any(_DOT_NUMBER.fullmatch(c) for c in cells)
    return "," if comma and not dot else "."
