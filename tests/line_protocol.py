"""A strict parser for the InfluxDB line protocol that `forecaster serve --output-format influx`
writes (measurement, tags, float fields, nanosecond timestamp): what the tests read it back with."""

from __future__ import annotations

import re

FLOAT = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def _split(text: str, stops: str) -> tuple[str, str, str]:
    """Read an escaped token up to the first unescaped char of ``stops``: (token, stop, rest).
    Only ``\\,`` ``\\=`` ``\\ `` are escapes; any other backslash is an error (strict)."""
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            if i + 1 >= len(text) or text[i + 1] not in ",= ":
                raise ValueError(f"bad escape in {text!r}")
            out.append(text[i + 1])
            i += 2
            continue
        if c in stops:
            return "".join(out), c, text[i + 1:]
        if c in "\n\r\"":
            raise ValueError(f"unexpected {c!r} in {text!r}")
        out.append(c)
        i += 1
    return "".join(out), "", ""


def parse_line(line: str) -> tuple[str, dict[str, str], dict[str, float], int]:
    """A strict parser for the subset we write: ``measurement,tags fields timestamp``."""
    measurement, stop, rest = _split(line, ", ")
    tags: dict[str, str] = {}
    while stop == ",":
        key, eq, rest = _split(rest, "=, ")
        if eq != "=" or not key:
            raise ValueError(f"tag without '=' in {line!r}")
        value, stop, rest = _split(rest, ", =")
        if stop == "=" or not value:
            raise ValueError(f"unescaped '=' or empty tag value in {line!r}")
        tags[key] = value
    if stop != " ":
        raise ValueError(f"no field set in {line!r}")
    fields: dict[str, float] = {}
    fieldset, _, timestamp = rest.partition(" ")
    for pair in fieldset.split(","):
        key, _, value = pair.partition("=")
        if not FLOAT.match(value):
            raise ValueError(f"field {key!r} is not a float: {value!r}")
        fields[key] = float(value)
    if not timestamp.isdigit():
        raise ValueError(f"bad timestamp in {line!r}")
    return measurement, tags, fields, int(timestamp)


def parse_payload(payload: bytes) -> list[tuple[str, dict[str, str], dict[str, float], int]]:
    return [parse_line(line) for line in payload.decode().split("\n")]
