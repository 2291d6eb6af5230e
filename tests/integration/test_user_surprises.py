"""Issue 19, quiet surprises: what used to succeed silently with a wrong result now says so."""

from __future__ import annotations

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
