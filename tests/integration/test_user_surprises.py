"""Issue 19, quiet surprises: what used to succeed silently with a wrong result now says so."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
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


def test_one_value_column_needs_no_targets(tmp_path, capsys):
    data = wave_csv(tmp_path / "one.csv")
    assert main(["train", "--data", str(data), "--out", str(tmp_path / "b"), *TINY]) == 0
    assert "test MAE temp" in capsys.readouterr().out
