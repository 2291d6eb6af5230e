"""`forecaster evaluate`: test-split metrics beside baselines (wiring only)."""

from __future__ import annotations

from pathlib import Path

import click

from forecaster.cli.util import check_levels, csv_aggregate, csv_format, csv_keywords
from pipelines.errors import ForecasterError

EPILOG_EVALUATE = """\b
Example:
  forecaster evaluate --model bundles/etth1 --data data/ETTh1.csv --report eval.md --json eval.json --plot eval.png
  forecaster evaluate --model bundles/etth1 --data data/ETTh1.csv --by-sensor --season 168
  forecaster evaluate --model bundles/etth1 --data data/ETTh1.csv --anomalies flags.csv --anomaly-level 0.95
"""


@click.command(epilog=EPILOG_EVALUATE)
@click.option("--model", "bundle", required=True, type=click.Path(file_okay=False), help="Bundle directory.")
@click.option("--data", required=True, type=click.Path(dir_okay=False), help="The CSV the model was trained on.")
@click.option("--report", default=None, type=click.Path(dir_okay=False), help="Markdown report to write.")
@click.option("--json", "json_out", default=None, type=click.Path(dir_okay=False), help="JSON metrics to write.")
@click.option("--plot", default=None, type=click.Path(dir_okay=False),
              help="PNG of forecasts vs actuals; the error-by-step PNG is written beside it (<stem>_by_step.png).")
@click.option("--folds", default=1, show_default=True, type=click.IntRange(min=1),
              help="Rolling-origin backtest folds over the test span (the network is not refit).")
@click.option("--season", default=None, type=click.IntRange(min=1),
              help="Season length in steps for the seasonal naive baseline and MASE, looked up along the series "
                   "(may exceed the window) [default: a day for sub-daily data, a week for daily].")
@click.option("--by-sensor", is_flag=True, help="Also a table per sensor (its own test windows).")
@click.option("--anomalies", default=None, type=click.Path(dir_okay=False),
              help="CSV of the test readings `serve --anomaly-topic` would flag (outside the --anomaly-level interval).")
@click.option("--anomaly-level", default=0.95, show_default=True, type=float, help="The interval level of --anomalies.")
@click.option("--anomaly-step", default=1, show_default=True, type=click.IntRange(min=1),
              help="Check each reading against the forecast issued this many steps before it.")
@click.option("--runtime", default="keras", show_default=True, type=click.Choice(["keras", "tflite"]),
              help="keras (TensorFlow) or tflite (the bundle's `forecaster export` on LiteRT: no TensorFlow needed).")
@csv_format
@csv_aggregate
def evaluate(bundle: str, data: str, report: str | None, json_out: str | None, plot: str | None,
             folds: int, season: int | None, by_sensor: bool, runtime: str, anomalies: str | None,
             anomaly_level: float, anomaly_step: int, **fmt) -> None:
    """Score a model on the test split of its data, beside the baselines.

    Per target and horizon step: MAE, RMSE, MAPE (zeros left out), sMAPE and MASE, for the
    model, the naive last value, the seasonal naive forecast, a ridge regression on the
    window (fit on the training windows) and, with statsforecast installed
    (`pip install 'iot-forecaster[baselines]'`), AutoETS; the model's skill against the best
    baseline (1 - MAE / best baseline MAE), with a warning naming any baseline that beats it
    and the horizon steps where it does; for each level of the model's prediction intervals,
    coverage, mean width and the Winkler score. Uses the split recorded in the bundle.
    """
    from forecaster.bundle import read_meta
    from pipelines.csv_source import read_csv

    meta = _warn_if_refit(read_meta(bundle, expect="forecast"))
    check_levels(bundle, meta, [anomaly_level] if anomalies else [])
    if plot:
        from forecaster.evaluate.plots import pyplot

        pyplot()  # no matplotlib (the edge install): one line before any work
    frame = read_csv(data, time_col=meta["time_col"], sensor_col=meta["sensor_col"], **csv_keywords(fmt))
    missing = [c for c in meta["spec"]["features"] + meta["spec"]["targets"] if c not in frame.columns]
    if missing:
        raise ForecasterError(f"{data}: missing column(s) {sorted(set(missing))} that the model needs")

    from forecaster.evaluate.report import markdown_report, plot_evaluation, write_json
    from forecaster.evaluate.scores import evaluate as run_evaluation
    from forecaster.model import Forecaster

    model = Forecaster.load(bundle, runtime=runtime)
    result = run_evaluation(model, frame, period=season, folds=folds, by_sensor=by_sensor)
    _echo_tables(result, by_sensor)
    if report:
        Path(report).parent.mkdir(parents=True, exist_ok=True)
        Path(report).write_text(markdown_report(result, f"{meta.get('name', bundle)} on {data}"))
        click.echo(f"wrote {report}")
    if json_out:
        click.echo(f"wrote {write_json(result, json_out)}")
    if plot:
        for path in plot_evaluation(result, plot):
            click.echo(f"wrote {path}")
    if anomalies:
        from forecaster.evaluate.anomalies import anomaly_flags

        flags = anomaly_flags(model, frame, level=anomaly_level, step=anomaly_step)
        Path(anomalies).parent.mkdir(parents=True, exist_ok=True)
        flags.to_csv(anomalies, index=False)
        click.echo(f"wrote {anomalies}: {len(flags)} anomalies at level {anomaly_level} (step {anomaly_step})")


def _echo_tables(result, by_sensor: bool) -> None:
    """The summary, the skill line (and the warning naming a baseline that beats the model, on
    stderr), the interval table and the per-sensor table."""
    from forecaster.evaluate.report import interval_table, season_note, sensor_table, summary_table
    from forecaster.evaluate.skill import loss_warning, skill_line

    click.echo(f"{result.windows} test windows, horizon {result.horizon}, {season_note(result)}")
    click.echo(summary_table(result))
    click.echo(skill_line(result))
    warning = loss_warning(result)
    if warning:
        click.echo(warning, err=True)
    if result.intervals:
        click.echo(interval_table(result))
    if by_sensor:
        click.echo(sensor_table(result))


def _warn_if_refit(meta: dict) -> dict:
    """``meta``, after a warning when the model was refit on every window (``--refit-on-all``): it
    has seen the test windows of its training file."""
    if "refit" in meta:
        click.echo("warning: this model was refit on train, validation and test (--refit-on-all): its scores on the "
                   "test windows of its training file are in sample", err=True)
    return meta
