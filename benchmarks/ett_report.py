"""The ETT benchmark's report: our rows beside the published ones as a markdown table, and the
results files (``results.json``; the table appended to ``results.md``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from benchmarks.ltsf import HORIZONS, PUBLISHED_MSE


def published_rows(dataset: str, horizon: int) -> list[tuple[str, float]]:
    """Published multivariate MSE for one dataset and horizon."""
    if horizon not in HORIZONS:
        return []
    k = HORIZONS.index(horizon)
    return [(name, v[k]) for name, v in PUBLISHED_MSE.get(dataset, {}).items()]


def cell_of(params: dict) -> str:
    """The cell of a results row's params (rows written before the rename say ``model``)."""
    return params.get("cell", params.get("model", "?"))


def markdown(rows: list[dict]) -> str:
    """Our rows and, for multivariate settings, the published rows beside them."""
    lines = ["| dataset | features | H | L | model | MSE | MAE | epochs | train s |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        p = r["params"]
        name = f"ours: {cell_of(p).upper()} seg{p['segment']} d{p['units']}"
        if p.get("ensemble", 1) > 1:
            name += f" x{p['ensemble']} seeds"
        for other in r.get("blended_with", []):
            o = other["params"]
            name += f" + {other['networks']} x {cell_of(o).upper()} seg{o['segment']} d{o['units']} (blended)"
        lines.append(f"| {r['dataset']} | {r['features']} | {r['horizon']} | {r['lookback']} | {name} | "
                     f"{r['mse']:.4f} | {r['mae']:.4f} | {r['epochs']} | {r['train_seconds']:.0f} |")
        if r["features"] == "M":
            for pname, mse in published_rows(r["dataset"], r["horizon"]):
                lines.append(f"| {r['dataset']} | M | {r['horizon']} | | {pname} (published) | {mse:.3f} | | | |")
    return "\n".join(lines)


def write_tables(rows: list[dict], out: Path) -> None:
    """Print the markdown table; write ``results.json`` and append the table to ``results.md``."""
    table = markdown(rows)
    click.echo(table)
    (out / "results.json").write_text(json.dumps(rows, indent=2) + "\n")
    with (out / "results.md").open("a") as handle:
        handle.write(f"\n<!-- {' '.join(sys.argv)} -->\n{table}\n")
