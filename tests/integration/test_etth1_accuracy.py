"""A real training run: default settings beat the naive forecast on ETTh1's standard test split."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from helpers import DATA, ROOT


@pytest.mark.slow
def test_default_lstm_beats_naive_last_value_on_etth1(tmp_path):
    # the standard split: train [0, 8640), validation [8640, 11520), test [11520, 14400)
    lines = (DATA / "ETTh1.csv").read_text().splitlines()[: 14400 + 1]
    data = tmp_path / "etth1_14400.csv"
    data.write_text("\n".join(lines) + "\n")
    result = subprocess.run(
        [sys.executable, "-m", "forecaster", "train", "--data", str(data), "--out", str(tmp_path / "b"),
         "--targets", "OT", "--input-steps", "96", "--horizon", "24",
         "--train-end", "2017-06-26T00:00:00Z", "--val-end", "2017-10-24T00:00:00Z", "--no-progress"],
        capture_output=True, text=True, cwd=ROOT, timeout=900,
    )
    assert result.returncode == 0, result.stderr
    print(result.stdout)
    assert "8521 training, 2761 validation and 2761 test windows" in result.stdout
    found = re.search(r"test MAE OT: ([\d.]+) \(naive last value: ([\d.]+)\)", result.stdout)
    model_mae, naive_mae = float(found.group(1)), float(found.group(2))
    assert model_mae < naive_mae
