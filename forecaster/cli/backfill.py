"""`forecaster train-backfill` and `forecaster backfill`: wiring only.

Input is read and checked, and the gaps are found and classified, before TensorFlow is
imported; a file with nothing to fill never loads it.
"""

from __future__ import annotations

import csv
from pathlib import Path

import click

from forecaster.cli.util import csv_aggregate, csv_format, csv_keywords, split_names, training_input, training_split
from pipelines.columns import name_list
from pipelines.dialect import Dialect
from pipelines.errors import DataError, ForecasterError

EPILOG_TRAIN_BACKFILL = """\b
Example:
  forecaster train-backfill --data data/ETTh1.csv --out bundles/etth1-backfill --max-fill 24 --epochs 20
"""
EPILOG_BACKFILL = """\b
Example:
  forecaster backfill --model bundles/etth1-backfill --data gappy.csv --out filled.csv --report gaps.csv
"""


@click.command("train-backfill", epilog=EPILOG_TRAIN_BACKFILL)
@training_input
@csv_format
@csv_aggregate
@click.option("--features", default=None, help="Comma-separated columns to read and fill [default: all value columns].")
@click.option("--window", default=96, show_default=True, type=click.IntRange(min=1), help="Slots the network sees, the gap centred.")
@click.option("--max-fill", default=24, show_default=True, type=click.IntRange(min=1), help="Longest gap (slots) to learn to fill.")
@click.option("--min-context", default=8, show_default=True, type=click.IntRange(min=1),
              help="Readings needed on each side of a gap inside the window.")
@click.option("--layers", default=2, show_default=True, type=click.IntRange(min=1), help="Stacked Bidirectional(LSTM) layers.")
@click.option("--units", default=64, show_default=True, type=click.IntRange(min=1), help="Units per direction.")
@click.option("--dropout", default=0.0, show_default=True, type=float, help="Dropout in [0, 1).")
@click.option("--loss", default="mae", show_default=True, type=click.Choice(["mse", "mae"]))
@click.option("--epochs", default=30, show_default=True, type=click.IntRange(min=1))
@click.option("--batch-size", default=64, show_default=True, type=click.IntRange(min=1))
@click.option("--learning-rate", default=1e-3, show_default=True, type=float)
@click.option("--patience", default=5, show_default=True, type=click.IntRange(min=1), help="Early-stopping patience (epochs).")
@click.option("--stride", default=1, show_default=True, type=click.IntRange(min=1), help="Slots between training windows.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0))
@training_split
@click.option("--name", default=None, help="Model name [default: the bundle folder name].")
@click.option("--progress/--no-progress", default=True, show_default=True, help="One progress line per epoch.")
def train_backfill(**o) -> None:
    """Train a bidirectional LSTM gap filler on a CSV and write a backfill bundle.

    Windows are cut from runs of complete rows in the training split; random gaps of 1 to
    --max-fill slots are masked out of them every epoch and the network learns to rebuild
    them from both sides. Offline use only: `predict` and `serve` refuse this bundle.
    """
    from forecaster.backfill.estimator import Backfiller, BackfillParams
    from pipelines.csv_source import read_csv
    from pipelines.gaps import BackfillSpec
    from pipelines.split import SplitSpec

    frame = read_csv(o["data"], time_col=o["time_col"], sensor_col=o["sensor_col"], **csv_keywords(o))
    value_columns = [c for c in frame.columns if c not in (frame.attrs["time_col"], frame.attrs["sensor_col"])]
    features = split_names(o["features"]) or value_columns
    unknown = [c for c in features if c not in value_columns]
    if unknown:
        raise ForecasterError(f"{o['data']}: no column(s) {name_list(unknown)}; value columns are {name_list(value_columns)}")
    spec = BackfillSpec(window=o["window"], max_fill=o["max_fill"], min_context=o["min_context"], features=features)
    params = BackfillParams(
        layers=o["layers"], units=o["units"], dropout=o["dropout"], loss=o["loss"], epochs=o["epochs"],
        batch_size=o["batch_size"], learning_rate=o["learning_rate"], patience=o["patience"],
        stride=o["stride"], seed=o["seed"],
    )
    split = SplitSpec(val=o["val"], test=o["test"], train_end=o["train_end"], val_end=o["val_end"])
    model = Backfiller(spec=spec, params=params, freq=o["freq"], split=split, time_col=frame.attrs["time_col"],
                       sensor_col=frame.attrs["sensor_col"], name=o["name"] or Path(o["out"]).name)
    model.fit(frame, verbose=2 if o["progress"] else 0)
    out = model.save(o["out"])
    c = model.window_counts_
    click.echo(f"cadence {model.freq_}: {c['train']} training, {c['validation']} validation and {c['test']} test windows")
    click.echo(f"saved {out} ({len(model.history_.get('loss', []))} epochs)")
    m = model.metrics_
    if "mae" in m:
        click.echo(f"test MAE on synthetic gaps of 1-{spec.max_fill} slots (straight line in brackets):")
        click.echo("  " + ", ".join(f"{k} {v:.4g} ({m['linear_mae'][k]:.4g})" for k, v in m["mae"].items()))


def _header(path: str, sep: str | None, decimal: str | None) -> tuple[list[str], Dialect]:
    """The header of a file and its dialect (the filled file is written back in it)."""
    from pipelines.dialect import detect

    if not Path(path).is_file():
        raise DataError("no such file", source=path)
    dialect = detect(Path(path), sep=sep, decimal=decimal)
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            return next(csv.reader(handle, delimiter=dialect.sep), []), dialect
    except FileNotFoundError:
        raise DataError("no such file", source=path) from None
    except (OSError, csv.Error, UnicodeDecodeError) as exc:
        raise DataError(f"not a readable CSV file: {exc}", source=path) from None


@click.command("backfill", epilog=EPILOG_BACKFILL)
@click.option("--model", "bundle", required=True, type=click.Path(file_okay=False), help="Backfill bundle directory.")
@click.option("--data", required=True, type=click.Path(dir_okay=False), help="CSV with gaps.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Filled CSV to write.")
@click.option("--max-fill", default=None, type=click.IntRange(min=1),
              help="Longest gap (slots) to fill [default and upper bound: the model's].")
@click.option("--report", default=None, type=click.Path(dir_okay=False), help="Also write one CSV row per gap and its fate.")
@click.option("--time-col", default=None, help="Time column [default: the model's if present, else ts/time/timestamp/date/datetime].")
@click.option("--sensor-col", default=None, help="Sensor id column [default: the model's or 'sensor' if present].")
@csv_format
def backfill(bundle: str, data: str, out: str, max_fill: int | None, report: str | None,
             time_col: str | None, sensor_col: str | None, **fmt) -> None:
    """Fill gaps (NaN runs and missing timestamps) of up to --max-fill slots, for every sensor.

    Original readings are written back exactly as they were in the file; estimated values
    are flagged in a `<column>_filled` column (1 or 0) per model column, and rows for filled
    missing timestamps are added after the reading before them. Longer gaps, and gaps
    without enough readings on either side, stay missing and are reported.
    """
    from forecaster.backfill.plan import assemble, check_max_fill, plan_gaps
    from forecaster.bundle import read_meta
    from pipelines.columns import TIME_COLUMN_NAMES, sensor_column, time_column
    from pipelines.csv_source import read_csv
    from pipelines.gaps import BackfillSpec

    meta = read_meta(bundle, expect="backfill")
    spec = BackfillSpec.from_dict(meta["spec"])
    max_fill = check_max_fill(max_fill, spec)
    header, dialect = _header(data, fmt["sep"], fmt["decimal"])
    if time_col is None:
        time_col = time_column(header, prefer=[meta["time_col"]])
        if time_col is None:
            raise DataError(f"no time column: none of {[meta['time_col'], *TIME_COLUMN_NAMES]} in the header "
                            f"{header}; name it with --time-col", source=data, line=1)
    sensor_col = sensor_column(header, sensor_col, prefer=[meta["sensor_col"]])
    frame = read_csv(data, time_col=time_col, sensor_col=sensor_col, **csv_keywords(fmt))
    time_col, sensor_col = frame.attrs["time_col"], frame.attrs["sensor_col"]
    if "," in time_col:
        raise DataError(f"backfill writes the file back cell by cell and needs one time column (not {time_col})",
                        source=data)
    plan = plan_gaps(frame, spec, freq=meta["freq"], max_fill=max_fill, time_col=time_col, sensor_col=sensor_col)
    if plan.to_fill:
        from forecaster.backfill.estimator import Backfiller

        result = Backfiller.load(bundle).fill_plan(frame, plan)
    else:
        result = assemble(frame, plan, {})

    from forecaster.backfill.writer import filled_text, write_filled_csv

    write_filled_csv(out, filled_text(data, result, spec.features, time_col, sensor_col, dialect), dialect)
    sensors = len(plan.grids)
    if not plan.gaps:
        click.echo(f"no gaps in {data} ({sensors} sensor(s), cadence {plan.freq}): nothing to fill; "
                   f"wrote {out} with the readings unchanged")
    else:
        click.echo(f"{sensors} sensor(s), cadence {plan.freq}: {len(plan.gaps)} gaps in {list(spec.features)}")
        click.echo(result.summary(max_fill))
        click.echo(f"wrote {out}")
    if report:
        table = result.gaps.copy()
        for column in ("start", "end"):
            table[column] = table[column].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        Path(report).parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(report, index=False)
        click.echo(f"wrote {report} ({len(table)} gaps)")
