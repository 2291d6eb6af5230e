"""Which gaps a backfill fills, and the filled frame (no TensorFlow here).

`plan_gaps` finds every gap of every sensor and column on the raw cadence grid and decides
what happens to it; `assemble` writes estimates into a copy of the input frame, adds rows
for missing timestamps that were filled, and flags every estimated value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipelines.columns import detect_columns
from pipelines.errors import DataError, ForecasterError
from pipelines.gaps import FILLED, BackfillSpec, Gap, Grid, classify, find_gaps, raw_grids
from pipelines.timeutil import step_of, time_of_slot

FLAG_SUFFIX = "_filled"


def flag_column(column: str) -> str:
    """The name of the companion column that flags estimated values of ``column``.

    Example:
        >>> flag_column("OT")
        'OT_filled'
    """
    return f"{column}{FLAG_SUFFIX}"


@dataclass(frozen=True)
class GapPlan:
    """Every gap of a frame with its status, and the grids it was found on."""

    spec: BackfillSpec
    freq: str
    max_fill: int
    time_col: str
    sensor_col: str | None
    grids: dict[str, Grid]
    gaps: list[Gap] = field(default_factory=list)

    @property
    def to_fill(self) -> list[Gap]:
        """The gaps that will be filled."""
        return [g for g in self.gaps if g.status == FILLED]


def check_max_fill(max_fill: int | None, spec: BackfillSpec) -> int:
    """``max_fill`` or the spec's, refusing one longer than the network was trained for.

    Example:
        >>> spec = BackfillSpec(window=16, max_fill=4, min_context=2, features=["a"])
        >>> check_max_fill(None, spec), check_max_fill(2, spec)
        (4, 2)
    """
    if max_fill is None:
        return spec.max_fill
    if isinstance(max_fill, bool) or not isinstance(max_fill, (int, np.integer)) or max_fill < 1:
        raise ForecasterError(f"`max_fill` must be a positive integer. Received: max_fill={max_fill!r}")
    if max_fill > spec.max_fill:
        raise ForecasterError(
            f"`max_fill` must not exceed {spec.max_fill}, the longest gap this model was trained to fill. "
            f"Received: max_fill={max_fill}"
        )
    return int(max_fill)


def plan_gaps(
    frame: pd.DataFrame,
    spec: BackfillSpec,
    *,
    freq: str,
    max_fill: int | None = None,
    time_col: str | None = None,
    sensor_col: str | None = None,
) -> GapPlan:
    """Find and classify every gap in the model's columns, for every sensor.

    Args:
        frame: readings (e.g. from `pipelines.read_csv`) with the model's feature columns.
        spec: the model's backfill spec.
        freq: the model's cadence.
        max_fill: the longest gap to fill (default and upper bound: ``spec.max_fill``).
        time_col, sensor_col: found by name when ``None``.

    Raises:
        DataError: no time column, missing feature columns, two readings in one slot, or a
            flag column that already exists.
    """
    max_fill = check_max_fill(max_fill, spec)
    time_col, sensor_col = detect_columns(frame, time_col, sensor_col)
    source = frame.attrs.get("source")
    missing = [c for c in spec.features if c not in frame.columns]
    if missing:
        raise DataError(f"missing column(s) {missing} that the model needs; columns are {list(frame.columns)}",
                        source=source)
    taken = [flag_column(c) for c in spec.features if flag_column(c) in frame.columns]
    if taken:
        raise DataError(f"column(s) {taken} already exist (an already backfilled file?); backfill the original data",
                        source=source)
    freq, grids = raw_grids(frame, spec.features, freq=freq, time_col=time_col, sensor_col=sensor_col)
    gaps = []
    for sensor, grid in grids.items():
        observed = grid.observed
        gaps += [classify(g, observed, spec, max_fill) for g in find_gaps(sensor, observed)]
    return GapPlan(spec=spec, freq=freq, max_fill=max_fill, time_col=time_col, sensor_col=sensor_col,
                   grids=grids, gaps=gaps)


@dataclass(frozen=True)
class FillResult:
    """A filled frame and what happened to every gap.

    Attributes:
        frame: the input rows in their order with estimates written into the gaps that
            were filled, rows added (after the reading before them) for filled missing
            timestamps, and a boolean ``<column>_filled`` column per model column that is
            True exactly where a value was estimated.
        source_rows: for each row of ``frame``, its position in the input frame (-1 for an
            added row).
        gaps: one row per gap: ``sensor`` (with a sensor column), ``column``, ``start`` and
            ``end`` (first and last missing slot), ``steps`` and ``status``.
    """

    frame: pd.DataFrame
    source_rows: np.ndarray
    gaps: pd.DataFrame

    @property
    def filled_values(self) -> int:
        """How many values were estimated."""
        flags = [c for c in self.frame.columns if c.endswith(FLAG_SUFFIX)]
        return int(self.frame[flags].to_numpy().sum()) if flags else 0

    def summary(self, max_fill: int) -> str:
        """A few lines for people: what was filled and what was left missing, and why."""
        if self.gaps.empty:
            return "no gaps: nothing to fill"
        filled = self.gaps[self.gaps["status"] == FILLED]
        left = self.gaps[self.gaps["status"] != FILLED]
        added = int((self.source_rows < 0).sum())
        lines = [f"filled {self.filled_values} values in {len(filled)} gaps ({added} rows added for missing timestamps)"]
        if left.empty:
            lines.append("no gaps left missing")
        else:
            why = ", ".join(f"{n} {status}" for status, n in left["status"].value_counts().sort_index().items())
            lines.append(f"left {len(left)} gaps ({int(left['steps'].sum())} values) missing: {why} "
                         f"(max-fill {max_fill})")
        return "\n".join(lines)


def assemble(frame: pd.DataFrame, plan: GapPlan, estimates: dict[tuple[str, int, int], np.ndarray]) -> FillResult:
    """Write estimates into a copy of ``frame``.

    Args:
        frame: the frame the plan was made from (never modified).
        plan: its gap plan.
        estimates: ``{(sensor, column index, start row): values}`` in sensor units, one value
            per slot of a gap marked `FILLED`.
    """
    features = list(plan.spec.features)
    out = frame.reset_index(drop=True).copy()
    flags = np.zeros((len(out), len(features)), dtype=bool)
    step = step_of(plan.freq).value
    added: list[pd.DataFrame] = []
    keys: list[np.ndarray] = [np.stack([np.arange(len(out)), np.zeros(len(out), dtype="int64")], axis=1)]
    by_sensor: dict[str, list[Gap]] = {}
    for gap in plan.to_fill:
        by_sensor.setdefault(gap.sensor, []).append(gap)
    for sensor, gaps in by_sensor.items():
        grid = plan.grids[sensor]
        values = np.full(grid.values.shape, np.nan)
        estimated = np.zeros(grid.values.shape, dtype=bool)
        for g in gaps:
            values[g.start : g.start + g.length, g.column] = estimates[(g.sensor, g.column, g.start)]
            estimated[g.start : g.start + g.length, g.column] = True
        rows = np.flatnonzero(estimated.any(axis=1))
        existing = rows[grid.row[rows] >= 0]
        for j in range(len(features)):
            here = existing[estimated[existing, j]]
            out.iloc[grid.row[here], out.columns.get_loc(features[j])] = values[here, j]
            flags[grid.row[here], j] = True
        new = rows[grid.row[rows] < 0]
        if len(new):
            anchor_grid = np.maximum.accumulate(np.where(grid.row >= 0, np.arange(len(grid.row)), 0))[new]
            keys.append(np.stack([grid.row[anchor_grid], new - anchor_grid], axis=1))
            added.append(_new_rows(frame, plan, sensor, grid.first_slot + new, values[new], estimated[new], step))
    for j, column in enumerate(features):
        out[flag_column(column)] = flags[:, j]
    source_rows = np.arange(len(out))
    if added:
        extra = pd.concat(added, ignore_index=True)
        out = pd.concat([out, extra.astype(out.dtypes.to_dict())], ignore_index=True)
        source_rows = np.concatenate([source_rows, np.full(len(extra), -1)])
        order = np.lexsort(np.concatenate(keys).T[::-1])
        out = out.iloc[order].reset_index(drop=True)
        source_rows = source_rows[order]
    out.attrs = dict(frame.attrs)
    return FillResult(frame=out, source_rows=source_rows, gaps=_gap_table(plan, step))


def _new_rows(frame: pd.DataFrame, plan: GapPlan, sensor: str, slots: np.ndarray, values: np.ndarray,
              estimated: np.ndarray, step: int) -> pd.DataFrame:
    times = time_of_slot(slots, step)
    if getattr(frame[plan.time_col].dtype, "tz", None) is None:
        times = times.tz_convert(None)
    rows = pd.DataFrame({c: pd.Series(np.nan, index=range(len(slots)), dtype=frame[c].dtype)
                         if pd.api.types.is_numeric_dtype(frame[c].dtype) else None
                         for c in frame.columns})
    rows[plan.time_col] = times
    if plan.sensor_col is not None:
        rows[plan.sensor_col] = sensor
    for j, column in enumerate(plan.spec.features):
        rows[column] = np.where(estimated[:, j], values[:, j], np.nan)
        rows[flag_column(column)] = estimated[:, j]
    return rows


def _gap_table(plan: GapPlan, step: int) -> pd.DataFrame:
    columns: Sequence[str] = ["column", "start", "end", "steps", "status"]
    if plan.sensor_col is not None:
        columns = ["sensor", *columns]
    rows = []
    for g in plan.gaps:
        first = plan.grids[g.sensor].first_slot + g.start
        rows.append({"sensor": g.sensor, "column": plan.spec.features[g.column],
                     "start": time_of_slot(first, step), "end": time_of_slot(first + g.length - 1, step),
                     "steps": g.length, "status": g.status})
    table = pd.DataFrame(rows, columns=["sensor", "column", "start", "end", "steps", "status"])
    return table[list(columns)]
