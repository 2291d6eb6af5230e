"""The `forecaster` command: wiring only (parse options, call the library, report).

TensorFlow is imported only by the commands that need it, after their input is checked.
"""

from __future__ import annotations

import logging
from dataclasses import fields
from pathlib import Path

import click

from forecaster.cli.logs import LOG_FORMATS, configure_logging
from forecaster.cli.util import (
    check_levels,
    csv_aggregate,
    csv_format,
    csv_keywords,
    declared_options,
    deprecated_values,
    missing_summary,
    split_names,
    training_input,
    training_split,
)
from forecaster.params import DEPRECATED, ModelParams
from pipelines.columns import name_list
from pipelines.errors import ForecasterError

log = logging.getLogger("forecaster")

EPILOG_TRAIN = """\b
Example:
  forecaster train --data data/ETTh1.csv --out bundles/etth1 --targets OT --epochs 10
"""
EPILOG_PREDICT = """\b
Example:
  forecaster predict --model bundles/etth1 --data data/ETTh1.csv --out forecast.csv --plot forecast.png
"""


def _apply_config(ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """Eager ``--config`` callback: TOML values become the commands' defaults."""
    if value is None:
        return None
    from forecaster.cli.config import default_map, load_toml

    group = ctx.command
    assert isinstance(group, click.Group)
    options = {  # hidden (deprecated) options are not configurable: `model` in a TOML file is a bundle
        name: {p.name for p in cmd.params if p.name and not getattr(p, "hidden", False)}
        for name, cmd in group.commands.items()
    }
    ctx.default_map = default_map(load_toml(value), options)
    return value


@click.group(context_settings={"help_option_names": ["-h", "--help"], "auto_envvar_prefix": "FORECASTER"})
@click.option("--config", type=click.Path(dir_okay=False), callback=_apply_config, is_eager=True,
              expose_value=False, help="TOML file with option defaults (flags and FORECASTER_* variables win).")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
@click.option("--log-format", default="text", show_default=True, type=click.Choice(LOG_FORMATS),
              help="Log lines on stderr as text or as JSON objects (one per line, for log shippers).")
@click.version_option(package_name="iot-forecaster")
def cli(verbose: int, quiet: bool, log_format: str) -> None:
    """Forecast IoT sensor series with LSTM/GRU networks.

    \b
    Examples:
      forecaster train   --data data/ETTh1.csv --out bundles/etth1 --targets OT
      forecaster predict --model bundles/etth1 --data data/ETTh1.csv --out forecast.csv
    """
    level = logging.ERROR if quiet else [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]
    configure_logging(level, log_format)


@cli.command(epilog=EPILOG_TRAIN)
@training_input
@csv_format
@csv_aggregate
@click.option("--features", default=None, help="Comma-separated input columns [default: the targets; add covariates explicitly].")
@click.option("--targets", default=None, help="Comma-separated forecast columns [required when the file has several value columns].")
@click.option("--input-steps", default=96, show_default=True, type=click.IntRange(min=1), help="Rows of history per window.")
@click.option("--horizon", default=24, show_default=True, type=click.IntRange(min=1), help="Rows to forecast.")
@declared_options(ModelParams, DEPRECATED)
@click.option("--max-gap", default=3, show_default=True, type=click.IntRange(min=0),
              help="Longest run of missing steps to interpolate; longer gaps cut the series.")
@training_split
@click.option("--name", default=None, help="Model name in published forecasts [default: the bundle folder name].")
@click.option("--intervals", default="0.8,0.95", show_default=True,
              help="Levels of the prediction intervals calibrated on the validation windows (comma list; none: off).")
@click.option("--init-from", default=None, type=click.Path(file_okay=False), metavar="BUNDLE",
              help="Warm start: continue training this forecast bundle's network on --data (its spec, network and "
                   "cadence; options left out are the parent's, a given one must match).")
@click.option("--refit-scaler", is_flag=True, default=False,
              help="With --init-from: fit the scaler on the new train split instead of keeping the parent's.")
@click.option("--refit-on-all", is_flag=True, default=False,
              help="After early stopping chose the epochs on validation, train the deployed network on train, "
                   "validation and test (its test metrics are then in sample).")
@click.option("--progress/--no-progress", default=True, show_default=True, help="One progress line per epoch.")
@click.option("--distributed", is_flag=True,
              help="Train as one worker of the cluster in TF_CONFIG (MultiWorkerMirroredStrategy); only the chief "
                   "writes the bundle (docs/distributed-training.md).")
def train(**o) -> None:
    """Train a forecaster on a CSV and write a model bundle.

    The model options (--cell to --ensemble) are those of `forecaster.params.ModelParams`.
    """
    cluster = None
    if o["distributed"]:
        import os

        if o["init_from"] or o["refit_on_all"]:
            raise ForecasterError("--distributed trains from scratch on the split: it cannot be combined with "
                                  "--init-from or --refit-on-all")

        from forecaster.nn.cluster import parse_tf_config

        cluster = parse_tf_config(os.environ.get("TF_CONFIG"))
    from forecaster.model import Forecaster
    from pipelines.conformal import parse_levels
    from pipelines.csv_source import read_csv
    from pipelines.split import SplitSpec
    from pipelines.windows import WindowSpec

    if o["init_from"]:
        from forecaster.cli.lineage import parent_defaults
        from forecaster.warm_start import Parent

        o = parent_defaults(o, Parent.read(o["init_from"]))
    elif o["refit_scaler"]:
        raise ForecasterError("--refit-scaler refits the scaler of a warm start: it needs --init-from BUNDLE")
    frame = read_csv(o["data"], time_col=o["time_col"], sensor_col=o["sensor_col"], **csv_keywords(o))
    value_columns = [c for c in frame.columns if c not in (frame.attrs["time_col"], frame.attrs["sensor_col"])]
    targets = _targets(o["data"], split_names(o["targets"]), value_columns)
    features = split_names(o["features"]) or targets
    unknown = [c for c in dict.fromkeys(features + targets) if c not in value_columns]
    if unknown:
        raise ForecasterError(f"{o['data']}: no column(s) {name_list(unknown)}; value columns are {name_list(value_columns)}")
    spec = WindowSpec(input_steps=o["input_steps"], horizon=o["horizon"], features=features, targets=targets)
    params = _model_params(o)
    split = SplitSpec(val=o["val"], test=o["test"], train_end=o["train_end"], val_end=o["val_end"])
    model = Forecaster(
        spec=spec, params=params, freq=o["freq"], max_gap=o["max_gap"], split=split,
        time_col=frame.attrs["time_col"], sensor_col=frame.attrs["sensor_col"],
        name=o["name"] or Path(o["out"]).name, intervals=parse_levels(o["intervals"]),
    )
    worker = None
    if cluster is not None:
        from forecaster.nn.distributed import Worker

        worker = Worker(cluster)  # before any other TensorFlow op
    model.fit(frame, verbose=2 if o["progress"] else 0, init_from=o["init_from"], refit_scaler=o["refit_scaler"],
              refit_on_all=o["refit_on_all"], worker=worker)
    if worker is not None and not worker.is_chief:
        click.echo(f"worker {cluster.rank} of {cluster.workers}: trained; the chief writes the bundle")
        return
    _report_training(model, frame, spec, model.save(o["out"]))


def _report_training(model, frame, spec, out: Path) -> None:
    """What `train` prints once the bundle is written."""
    m = model.metrics_
    counts = model.window_counts_
    click.echo(f"{len(model.gap_reports_)} sensor(s), cadence {model.freq_}: {counts['train']} training, "
               f"{counts['validation']} validation and {counts['test']} test windows")
    click.echo(_gap_summary(model.gap_reports_))
    click.echo(missing_summary(frame))
    members = model.history_.get("member_epochs")
    trained = (f"ensemble of {len(members)}: {' + '.join(str(int(e)) for e in members)} epochs" if members
               else f"{len(model.history_.get('loss', []))} epochs")
    click.echo(f"saved {out} ({trained})")
    for target in spec.targets:
        if "mae" in m:
            naive = m.get("naive_mae", {}).get(target)
            vs = f" (naive last value: {naive:.4g})" if naive is not None else ""
            click.echo(f"test MAE {target}: {m['mae'][target]:.4g}{vs} on {m['test_windows']} windows")
    from forecaster.nn.combine import network_share

    share = network_share(model.model_)
    if share is not None:
        click.echo("combined with the baselines (the network's share, as far as the validation windows clearly "
                   "support it): " + ", ".join(f"{t} {s:.0%}" for t, s in zip(spec.targets, share)))
    from forecaster.cli.lineage import identity_lines

    for line in identity_lines(model):
        click.echo(line)
    if model.intervals_ is not None:
        click.echo(f"prediction intervals at {', '.join(model.intervals_.available) or 'no level'} calibrated on "
                   f"{model.intervals_.windows_} validation windows")


@cli.command(epilog=EPILOG_PREDICT)
@click.option("--model", "bundle", required=True, type=click.Path(file_okay=False), help="Bundle directory.")
@click.option("--data", required=True, type=click.Path(dir_okay=False), help="CSV with recent readings.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Forecast CSV to write.")
@click.option("--plot", default=None, type=click.Path(dir_okay=False), help="Also write a PNG of history and forecast.")
@click.option("--runtime", default="keras", show_default=True, type=click.Choice(["keras", "tflite"]),
              help="keras (TensorFlow) or tflite (the bundle's `forecaster export` on LiteRT: no TensorFlow needed).")
@click.option("--interval", default=None, type=float,
              help="Also write <target>_lo and <target>_hi: the prediction interval at this calibrated level, e.g. 0.95.")
@csv_format
@csv_aggregate
def predict(bundle: str, data: str, out: str, plot: str | None, runtime: str, interval: float | None, **fmt) -> None:
    """Forecast the next `horizon` steps after the end of each sensor's series."""
    from forecaster.bundle import read_meta
    from pipelines.csv_source import read_csv

    meta = read_meta(bundle, expect="forecast")
    if interval is not None:
        check_levels(bundle, meta, (interval,))
    if plot:
        from forecaster.evaluate.plots import pyplot

        pyplot()  # no matplotlib (the edge install): one line before any work
    frame = read_csv(data, time_col=meta["time_col"] if meta["time_col"] else None,
                     sensor_col=meta["sensor_col"], **csv_keywords(fmt))
    spec_features = meta["spec"]["features"]
    missing = [c for c in spec_features if c not in frame.columns]
    if missing:
        raise ForecasterError(f"{data}: missing feature column(s) {missing} that the model needs")

    from forecaster.model import Forecaster

    model = Forecaster.load(bundle, runtime=runtime)
    sensors, windows, ends = model.latest_windows(frame)
    forecast = model.predict_windows(windows, sensors=sensors, ends=ends)
    bands = None if interval is None else model.interval_bounds(windows, forecast, interval)
    result = model.forecast_frame(sensors, ends, forecast, with_sensor=True, bands=bands)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    written = result.copy()
    written["ts"] = written["ts"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    written.to_csv(out, index=False)
    click.echo(f"wrote {out}: {len(sensors)} sensor(s) x {model.spec.horizon} steps of {list(model.spec.targets)}")
    click.echo(missing_summary(frame))
    if plot:
        from forecaster.evaluate.plots import plot_forecast

        history = _recent_history(frame, model, sensors)
        plot_forecast(history, result, list(model.spec.targets), plot, interval=interval)
        click.echo(f"wrote {plot}")


@cli.command(epilog="""\b
Example:
  forecaster export --model bundles/etth1 --format tflite
""")
@click.option("--model", "bundle", required=True, type=click.Path(file_okay=False), help="Forecast bundle directory.")
@click.option("--format", "fmt", default="tflite", show_default=True, type=click.Choice(["tflite"]))
def export(bundle: str, fmt: str) -> None:
    """Write an edge export (TFLite, builtin ops only) into the bundle, checked against Keras."""
    from forecaster.bundle import read_meta

    read_meta(bundle, expect="forecast")
    from forecaster.export import export_tflite

    path, diff = export_tflite(bundle)
    click.echo(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB); max difference from Keras {diff:.2g}")


def _targets(data: str, given: list[str] | None, value_columns: list[str]) -> list[str]:
    """The forecast columns: ``--targets``, or the only value column; several and none named is an error
    (guessing one, e.g. the last column, has trained models on a noise column without a word)."""
    if given:
        return given
    if len(value_columns) == 1:
        return value_columns
    raise ForecasterError(f"{data}: {len(value_columns)} value columns ({name_list(value_columns, quoted=False)}); "
                          f"name the one(s) to forecast with --targets, e.g. --targets {value_columns[-1]}")


def _model_params(o: dict) -> ModelParams:
    """The `ModelParams` of the declared options in ``o`` (deprecated names moved to the new ones)."""
    values = deprecated_values(o, DEPRECATED)
    return ModelParams(**{f.name: values[f.name] for f in fields(ModelParams)})


def _gap_summary(reports: dict) -> str:
    """One line on what regularization did (details per sensor with -v)."""
    filled = sum(r.interpolated_slots for r in reports.values())
    gaps = sum(r.interpolated_gaps for r in reports.values())
    cut = sum(len(r.cut_gaps) for r in reports.values())
    incomplete = sum(r.incomplete_rows for r in reports.values())
    return (f"gaps: {filled} missing steps interpolated in {gaps} gaps, {cut} longer gaps cut the series, "
            f"{incomplete} incomplete rows treated as missing")


def _recent_history(frame, model, sensors: list[str]) -> dict:
    """The last few horizons of measured targets per sensor, for plots."""
    import pandas as pd

    from pipelines.series import prepare

    time_col, sensor_col = model._columns_of(frame)
    data = prepare(frame, model.spec.targets, freq=model.freq_, max_gap=model.max_gap,
                   time_col=time_col, sensor_col=sensor_col)
    keep = 4 * max(model.spec.horizon, model.spec.input_steps // 4)
    return {
        s: pd.DataFrame(data.series[s].values[-keep:], index=data.times(s)[-keep:], columns=list(model.spec.targets))
        for s in sensors
    }


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 2 bad usage or input, 1 unexpected failure)."""
    try:
        result = cli.main(args=argv, prog_name="forecaster", standalone_mode=False)
        return result if isinstance(result, int) else 0
    except ForecasterError as exc:
        click.echo(f"forecaster: error: {exc}", err=True)
        return 2
    except click.UsageError as exc:
        hint = f" (see 'forecaster {exc.ctx.info_name} --help')" if exc.ctx and exc.ctx.parent else " (see 'forecaster --help')"
        click.echo(f"forecaster: error: {exc.format_message()}{hint}", err=True)
        return 2
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.Abort:
        click.echo("forecaster: aborted", err=True)
        return 130
    except KeyboardInterrupt:
        return 130
    except Exception:  # an unexpected failure: keep the traceback for the bug report
        log.exception("unexpected failure")
        return 1


# Commands that live in their own modules, registered last so `forecaster --help` lists them all.
from forecaster.cli.backfill import backfill, train_backfill  # noqa: E402
from forecaster.cli.evaluate import evaluate  # noqa: E402
from forecaster.cli.mqtt import parse, replay, serve  # noqa: E402

for _command in (serve, replay, parse, evaluate, train_backfill, backfill):
    cli.add_command(_command)
