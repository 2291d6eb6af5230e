"""Issue 19, quiet surprises: what used to succeed silently with a wrong result now says so."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import ROOT

from forecaster.cli import main

TINY = ["--input-steps", "24", "--horizon", "6", "--units", "8", "--epochs", "1", "--no-progress"]


def wave_csv(path: Path, columns: tuple[str, ...] = ("temp",), n: int = 300) -> Path:
    """A wide hourly file with one smooth wave per value column."""
    t = np.arange(n)
    frame = pd.DataFrame({"ts": pd.date_range("2026-01-01", periods=n, freq="1h").strftime("%Y-%m-%dT%H:%M:%SZ")})
    for k, column in enumerate(columns):
        frame[column] = np.round(20 + 5 * np.sin(2 * np.pi * t / 24 + k), 4)
    frame.to_csv(path, index=False)
    return path


def test_several_value_columns_without_targets_is_one_line_listing_them(tmp_path, capsys):
    data = wave_csv(tmp_path / "three.csv", ("temp", "hum", "noise"))
    assert main(["train", "--data", str(data), "--out", str(tmp_path / "b"), *TINY]) == 2
    err = capsys.readouterr().err
    assert err == (f"forecaster: error: {data}: 3 value columns (temp, hum, noise); name the one(s) to forecast "
                   "with --targets, e.g. --targets noise\n")
    assert not (tmp_path / "b").exists()


def test_missing_targets_is_refused_before_tensorflow_loads(tmp_path):
    data = wave_csv(tmp_path / "two.csv", ("temp", "hum"))
    code = ("import sys; from forecaster.cli import main; "
            f"rc = main(['train', '--data', {str(data)!r}, '--out', 'x']); print(rc, 'tensorflow' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.stdout.split() == ["2", "False"], result.stderr
    assert "--targets" in result.stderr


@pytest.fixture(scope="module")
def one_column_bundle(tmp_path_factory) -> Path:
    """A tiny bundle trained on a file with one value column, without --targets."""
    folder = tmp_path_factory.mktemp("one")
    result = subprocess.run([sys.executable, "-m", "forecaster", "train", "--data", str(wave_csv(folder / "one.csv")),
                             "--out", str(folder / "b"), *TINY], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "test MAE temp" in result.stdout
    return folder / "b"


def test_one_value_column_needs_no_targets(one_column_bundle):
    import forecaster

    assert forecaster.load(one_column_bundle).spec.targets == ("temp",)


def long_file(path: Path, cut: dict[str, int], blank: dict[str, int]) -> Path:
    """Two sensors a and b (100 hourly rows each); ``cut`` drops a sensor's last rows, ``blank`` empties them."""
    parts = []
    for sensor in ("a", "b"):
        part = pd.read_csv(wave_csv(path, n=100)).assign(sensor=sensor)
        if blank.get(sensor):
            part.loc[part.index[-blank[sensor]:], "temp"] = np.nan
        parts.append(part.iloc[: len(part) - cut.get(sensor, 0)])
    pd.concat(parts)[["sensor", "ts", "temp"]].to_csv(path, index=False)
    return path


def test_predict_warns_once_when_a_sensors_last_rows_are_missing(one_column_bundle, tmp_path):
    data = long_file(tmp_path / "late.csv", cut={"b": 5}, blank={"a": 2})
    out = tmp_path / "f.csv"
    result = subprocess.run([sys.executable, "-m", "forecaster", "predict", "--model", str(one_column_bundle),
                             "--data", str(data), "--out", str(out)], capture_output=True, text=True, cwd=ROOT,
                            timeout=600)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "WARNING" in lines[0]
    assert lines[0].endswith("2 sensor(s) end before the data's last time 2026-01-05T03:00:00Z (their last rows are "
                             "missing or incomplete); their forecasts start earlier: a at 2026-01-05T02:00:00Z "
                             "(2 step(s) early), b at 2026-01-04T23:00:00Z (5 step(s) early)")
    starts = pd.read_csv(out).groupby("sensor")["ts"].first().to_dict()
    assert starts == {"a": "2026-01-05T02:00:00Z", "b": "2026-01-04T23:00:00Z"}


def test_library_predict_logs_the_warning_and_is_quiet_when_nothing_is_missing(one_column_bundle, tmp_path, caplog):
    import forecaster
    from pipelines import read_csv

    model = forecaster.load(one_column_bundle)
    with caplog.at_level(logging.WARNING, logger="forecaster"):
        model.predict(read_csv(wave_csv(tmp_path / "whole.csv", n=100)))
        assert caplog.records == []
        frame = read_csv(wave_csv(tmp_path / "blank.csv", n=100))
        frame.loc[frame.index[-3:], "temp"] = np.nan
        forecast = model.predict(frame)
    assert [r.getMessage() for r in caplog.records] == [
        "the series ends 3 step(s) before the data's last time 2026-01-05T03:00:00Z (its last rows are missing or "
        "incomplete): the forecast starts at 2026-01-05T01:00:00Z"]
    assert str(forecast["ts"].iloc[0]) == "2026-01-05 01:00:00+00:00"


@pytest.fixture(scope="module")
def ten_minute(tmp_path_factory) -> tuple[Path, Path]:
    """Two sensors at a 10-minute cadence with a daily cycle (144 steps), and a tiny bundle (window 24)."""
    folder = tmp_path_factory.mktemp("tenmin")
    rng = np.random.default_rng(0)
    n, parts = 6 * 144, []
    for k, sensor in enumerate(("s1", "s2")):
        t = np.arange(n)
        parts.append(pd.DataFrame({
            "sensor": sensor, "ts": pd.date_range("2026-03-01", periods=n, freq="10min").strftime("%Y-%m-%dT%H:%M:%SZ"),
            "temp": np.round(20 + 5 * np.sin(2 * np.pi * t / 144 + k) + rng.normal(0, 0.1, n), 3)}))
    data = folder / "tenmin.csv"
    pd.concat(parts).to_csv(data, index=False)
    assert main(["train", "--data", str(data), "--out", str(folder / "b"), *TINY]) == 0
    return data, folder / "b"


def test_evaluate_finds_a_daily_season_longer_than_the_window_and_scores_each_sensor(ten_minute, tmp_path, capsys):
    data, bundle = ten_minute
    capsys.readouterr()
    out = tmp_path / "e.json"
    assert main(["evaluate", "--model", str(bundle), "--data", str(data), "--by-sensor", "--json", str(out),
                 "--report", str(tmp_path / "e.md")]) == 0
    assert "## By sensor" in (tmp_path / "e.md").read_text()
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "288 test windows, horizon 6, seasonal period 144"  # a day, though the window is 24
    table = printed[printed.index("| sensor | target | windows | model MAE | naive last value MAE | seasonal naive MAE "
                                  "| linear (ridge) MAE | model RMSE | model MASE | model skill |"):]
    assert [row.split(" | ")[:3] for row in table[2:4]] == [["| s1", "temp", "144"], ["| s2", "temp", "144"]]
    result = json.loads(out.read_text())
    assert result["seasonal_period"] == 144 and result["seasonal_fallback_windows"] == 0
    summary = result["summary"]
    assert summary["seasonal_naive"]["mae"]["temp"] < 0.5 * summary["naive"]["mae"]["temp"]  # a real season now
    per_sensor = result["by_sensor"]
    assert sum(s["windows"] for s in per_sensor.values()) == result["test_windows"]
    pooled = sum(s["windows"] * s["model"]["mae"]["temp"] for s in per_sensor.values()) / result["test_windows"]
    assert pooled == pytest.approx(summary["model"]["mae"]["temp"], rel=1e-9)


def test_seasonal_naive_takes_the_value_one_day_back_along_the_series(ten_minute):
    import forecaster
    from forecaster.evaluate.scores import evaluate, split_windows
    from pipelines import read_csv
    from pipelines.split import TEST

    data, bundle = ten_minute
    model, frame = forecaster.load(bundle), read_csv(data)
    test = split_windows(model, frame, period=144)[0][TEST]
    temps = frame.set_index(["sensor", "ts"])["temp"]
    step = pd.Timedelta("10min")
    for k in (0, len(test.X) - 1):
        origin = pd.Timestamp(test.origin[k])
        expected = [temps[(test.sensor[k], origin + h * step - 144 * step)] for h in range(1, 7)]
        np.testing.assert_allclose(test.seasonal[k, :, 0], expected)
    assert evaluate(model, frame, period=144).period == 144  # refused before: longer than the 24-step window


def sensor_frames(count: int) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """History and forecast frames of ``count`` sensors, as `forecaster predict --plot` draws them."""
    times = pd.date_range("2026-01-01", periods=48, freq="1h", tz="UTC")
    history = {f"s{k}": pd.DataFrame({"temp": np.sin(np.arange(48) / 4 + k)}, index=times) for k in range(count)}
    future = pd.date_range(times[-1] + pd.Timedelta("1h"), periods=6, freq="1h", tz="UTC")
    forecast = pd.concat(pd.DataFrame({"sensor": s, "ts": future, "temp": 0.0}) for s in history)
    return history, forecast


def legends_outside(fig) -> bool:
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    return all(ax.get_legend().get_window_extent(renderer).x0 >= ax.get_window_extent(renderer).x1
               for ax in fig.axes)


@pytest.mark.parametrize("count, title", [(8, "6 of 8 sensors shown"), (2, "")])
def test_forecast_plot_labels_axes_keeps_the_legend_outside_and_says_how_many_sensors_it_shows(count, title, tmp_path):
    from forecaster.evaluate.plots import forecast_figure, plot_forecast, pyplot

    history, forecast = sensor_frames(count)
    fig = forecast_figure(history, forecast, ["temp"])
    assert len(fig.axes) == min(count, 6)
    assert (fig._suptitle.get_text() if fig._suptitle else "") == title
    assert {(ax.get_xlabel(), ax.get_ylabel()) for ax in fig.axes} == {("time (UTC)", "temp")}
    assert legends_outside(fig)
    pyplot().close(fig)
    assert plot_forecast(history, forecast, ["temp"], tmp_path / "f.png").read_bytes()[:4] == b"\x89PNG"


def test_evaluation_plots_label_axes_and_keep_legends_outside():
    from forecaster.evaluate.report import by_step_figure, example_figure
    from forecaster.evaluate.scores import METRICS, Evaluation

    rng = np.random.default_rng(0)
    methods = ("model", "naive")
    scores = {m: {k: rng.random((6, 2)) for k in METRICS} for m in methods}
    examples = {"history": rng.random((2, 24, 2)), "actual": rng.random((2, 6, 2)),
                **{m: rng.random((2, 6, 2)) for m in methods}}
    result = Evaluation(["OT", "HUFL"], 6, 24, 10, scores, examples=examples)
    examples_fig, by_step = example_figure(result), by_step_figure(result)
    assert {ax.get_ylabel() for ax in examples_fig.axes} == {"OT"}
    assert all(ax.get_xlabel().startswith("steps from the forecast origin") for ax in examples_fig.axes)
    assert [(ax.get_xlabel(), ax.get_ylabel()) for ax in by_step.axes] == [("horizon step", "MAE of OT"),
                                                                           ("horizon step", "MAE of HUFL")]
    assert legends_outside(examples_fig) and legends_outside(by_step)


def test_serve_start_up_line_says_how_many_readings_the_first_forecast_needs(broker, tiny_model, caplog):
    from serve_support import DaemonThread

    with caplog.at_level(logging.INFO, logger="forecaster.serve.daemon"):
        daemon = DaemonThread(tiny_model, broker.url)
        assert daemon.close() == 0
    line = next(r.getMessage() for r in caplog.records if r.getMessage().startswith("serving "))
    assert f"{broker.url} sensors/+/readings -> forecasts/{{sensor}}" in line
    assert "; each sensor needs 24 readings (1 day at 1h) before its first forecast; metrics on http://" in line


def test_replay_prints_progress_on_stderr(broker, tmp_path, capsys):
    data = wave_csv(tmp_path / "w.csv", n=40)
    assert main(["replay", "--data", str(data), "--broker", broker.url, "--sensor", "t1", "--rate", "400"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("published 40 readings")
    lines = captured.err.splitlines()
    assert lines[0] == "replay: 4/40 readings (10 %), up to 2026-01-01T03:00:00Z"
    assert len(lines) == 10 and lines[-1] == "replay: 40/40 readings (100 %), up to 2026-01-02T15:00:00Z"
    assert main(["-q", "replay", "--data", str(data), "--broker", broker.url, "--sensor", "t1"]) == 0
    assert capsys.readouterr().err == ""
