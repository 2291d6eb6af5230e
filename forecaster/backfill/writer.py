"""Write a backfilled CSV that keeps every original cell's text exactly as it was read.

Original rows are copied from the file as text (so ``5.827000141143799`` stays
``5.827000141143799`` and an unfilled empty cell stays empty); an estimated value is
written as the shortest text that reads back as the same float64; rows added for missing
timestamps take the file's own time format when it is one of the common ones (else ISO
8601 with ``Z``). A ``<column>_filled`` column (1 or 0) per model column is appended.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from forecaster.backfill.plan import FillResult, flag_column
from pipelines.dialect import Dialect
from pipelines.errors import DataError

COMMA = Dialect(sep=",", decimal=".", detected=False)

TIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M",
    "%Y-%m-%dT%H:%M:%S+00:00", "%Y-%m-%d %H:%M:%S+00:00", "%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%d",
)
FALLBACK_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def time_formatter(raw: pd.Series, parsed: pd.Series) -> Callable[[pd.Series], pd.Series]:
    """A function that writes times the way ``raw`` (the file's text) wrote ``parsed``.

    Example:
        >>> raw = pd.Series(["2026-01-01 00:00:00"])
        >>> fmt = time_formatter(raw, pd.to_datetime(raw, utc=True))
        >>> fmt(pd.Series(pd.to_datetime(["2026-01-01 05:00"], utc=True))).tolist()
        ['2026-01-01 05:00:00']
    """
    raw = raw.astype(str).str.strip().head(500)
    sample = pd.Series(pd.DatetimeIndex(parsed.head(500)).tz_convert("UTC"))
    if pd.to_numeric(raw, errors="coerce").notna().all():
        whole = raw.str.fullmatch(r"-?\d+").all()
        if whole:
            return lambda t: pd.Series(pd.DatetimeIndex(t).asi8 // 1_000_000_000).astype(str)
        return lambda t: pd.Series(pd.DatetimeIndex(t).asi8 / 1e9).map(repr)
    for fmt in TIME_FORMATS:
        if (sample.dt.strftime(fmt).to_numpy() == raw.to_numpy()).all():
            return _strftime(fmt)
    return _strftime(FALLBACK_FORMAT)


def _strftime(fmt: str) -> Callable[[pd.Series], pd.Series]:
    return lambda t: pd.Series(pd.DatetimeIndex(t).tz_convert("UTC")).dt.strftime(fmt)


def filled_text(source: str | Path, result: FillResult, features: Sequence[str], time_col: str,
                sensor_col: str | None, dialect: Dialect = COMMA) -> pd.DataFrame:
    """The output as a frame of strings: original cells verbatim, estimates and flags added.

    Args:
        source: the CSV the filled frame was read from (with `pipelines.read_csv`, unsliced).
        result: what `Backfiller.fill` returned for that frame.
        features: the model's columns.
        time_col, sensor_col: the file's time and sensor columns.
        dialect: the file's separator and decimal mark; estimates use its decimal mark.
    """
    raw = pd.read_csv(source, dtype=str, keep_default_na=False, sep=dialect.sep, encoding="utf-8-sig")
    src = result.source_rows
    if len(raw) != int((src >= 0).sum()):
        raise DataError("the file changed while it was being backfilled", source=str(source))
    frame = result.frame
    text = pd.DataFrame("", index=range(len(frame)), columns=raw.columns, dtype=object)
    original = src >= 0
    text.loc[original, :] = raw.to_numpy(dtype=object)[src[original]]
    added = ~original
    if added.any():
        parsed = pd.Series(frame.loc[original, time_col].to_numpy(), index=src[original]).sort_index()
        fmt = time_formatter(raw[time_col], parsed)
        text.loc[added, time_col] = fmt(frame.loc[added, time_col]).to_numpy()
        if sensor_col is not None:
            text.loc[added, sensor_col] = frame.loc[added, sensor_col].astype(str).to_numpy()
    for column in features:
        flags = frame[flag_column(column)].to_numpy(dtype=bool)
        text.loc[flags, column] = [repr(float(v)).replace(".", dialect.decimal) for v in frame.loc[flags, column]]
        text[flag_column(column)] = np.where(flags, "1", "0")
    return text


def write_filled_csv(out: str | Path, text: pd.DataFrame, dialect: Dialect = COMMA) -> Path:
    """Write the string frame from `filled_text` in the input's dialect (parent folders created)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    text.to_csv(out, index=False, sep=dialect.sep)
    return out
