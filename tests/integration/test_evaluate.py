"""`forecaster evaluate`: the test split re-derived from the bundle, beside three baselines."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from helpers import DATA

import forecaster
from forecaster.cli import main
from forecaster.evaluate.scores import BASELINES, METRICS, MODEL, evaluate, split_windows
from pipelines.split import TEST


@pytest.fixture(scope="module")
def sample_csv(tmp_path_factory):
    """The first 1,200 rows of the shipped ETTh1 sample (what `tiny_bundle` was trained on)."""
    lines = (DATA / "ETTh1.csv").read_text().splitlines()[:1201]
    path = tmp_path_factory.mktemp("sample") / "etth1_head.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_bundle_records_its_split_as_instants(tiny_bundle, ett_small):
    """The fractions are resolved on the training data: 70 % of 1,200 hourly rows train."""
    meta = json.loads((tiny_bundle / "bundle.json").read_text())
    dates = pd.to_datetime(ett_small["date"], utc=True)
    assert meta["split"] == {"val": 0.1, "test": 0.2, "train_end": dates.iloc[840].isoformat(),
                             "val_end": dates.iloc[960].isoformat()}


def test_a_longer_file_is_cut_at_the_training_borders(tiny_model, ett_small):
    """Evaluating on the same series with more rows appended never moves the test split back
    into rows the model trained or validated on: it only adds later test windows."""
    from pipelines import read_csv

    longer = read_csv(DATA / "ETTh1.csv").iloc[:1500]
    short, _ = split_windows(tiny_model, ett_small)
    long, _ = split_windows(tiny_model, longer)
    assert len(long[TEST].X) == len(short[TEST].X) + 300
    np.testing.assert_array_equal(long[TEST].origin[: len(short[TEST].X)], short[TEST].origin)
    assert long[TEST].origin.min() >= tiny_model.split_.val_end


def test_a_file_ending_before_the_test_split_is_a_clear_error(tiny_model, ett_small):
    from pipelines.errors import DataError

    with pytest.raises(DataError, match="test split starts at 2016-08-10"):
        evaluate(tiny_model, ett_small.iloc[:900])


def test_evaluate_uses_the_training_test_windows(tiny_model, ett_small):
    result = evaluate(tiny_model, ett_small, folds=3)
    assert result.windows == tiny_model.window_counts_["test"] == tiny_model.metrics_["test_windows"]
    assert set(result.scores) == {MODEL, *BASELINES} and result.period == 24
    for scores in result.scores.values():
        for metric in METRICS:
            assert scores[metric].shape == (6, 1)
    # the same MAE as training measured, and the naive baseline as training measured it
    np.testing.assert_allclose(result.summary(MODEL, "mae"), tiny_model.metrics_["mae"]["OT"], rtol=1e-5)
    # (training scores from the float32 scaled series: sensor units agree to float32 rounding)
    np.testing.assert_allclose(result.summary("naive", "mae"), tiny_model.metrics_["naive_mae"]["OT"], rtol=1e-6)
    assert [f["fold"] for f in result.folds] == [1, 2, 3]
    assert sum(f["windows"] for f in result.folds) == result.windows
    assert all("linear" in f for f in result.folds)


def test_more_folds_than_test_windows_is_a_clear_error(tiny_model, ett_small):
    from pipelines.errors import ForecasterError

    windows = tiny_model.window_counts_["test"]
    with pytest.raises(ForecasterError, match=f"at most the number of test windows \\({windows}\\)"):
        evaluate(tiny_model, ett_small, folds=windows + 1)


def test_seasonal_naive_on_the_same_windows(tiny_model, ett_small):
    windows, _ = split_windows(tiny_model, ett_small)
    test = windows[TEST]
    result = evaluate(tiny_model, ett_small, period=3)
    expected = np.abs(test.y - test.history[:, [-3, -2, -1, -3, -2, -1], :]).mean(axis=0)
    np.testing.assert_allclose(result.scores["seasonal_naive"]["mae"], expected)


def test_cli_prints_table_and_writes_report_json_plots(tiny_bundle, sample_csv, tmp_path, capsys):
    out = tmp_path / "eval"
    code = main(["evaluate", "--model", str(tiny_bundle), "--data", str(sample_csv), "--report", str(out / "r.md"),
                 "--json", str(out / "r.json"), "--plot", str(out / "p.png"), "--folds", "2"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "| OT | model |" in printed and "| OT | naive last value |" in printed
    assert "| OT | seasonal naive |" in printed and "| OT | linear (ridge) |" in printed
    assert "MASE" in printed and "sMAPE %" in printed
    report = (out / "r.md").read_text()
    assert "## MAE by horizon step" in report and "Rolling-origin backtest" in report
    data = json.loads((out / "r.json").read_text())
    assert data["seasonal_period"] == 24 and len(data["per_step"]["model"]["mae"]) == 6
    for png in ("p.png", "p_by_step.png"):
        assert (out / png).read_bytes()[:4] == b"\x89PNG"


def test_cli_season_longer_than_any_history_is_exit_2(tiny_bundle, sample_csv, capsys):
    """A season may exceed the window (it is looked up along the series), not the data."""
    assert main(["evaluate", "--model", str(tiny_bundle), "--data", str(sample_csv), "--season", "5000"]) == 2
    assert capsys.readouterr().err == (
        "forecaster: error: `period` must leave a season of history before some test window; no test window has "
        "5000 regular rows before its forecast. Received: period=5000\n")


def test_evaluate_help_does_not_need_tensorflow():
    import subprocess
    import sys

    from helpers import ROOT

    code = "import sys; from forecaster.cli import main; main(['evaluate', '--help']); print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert "Example:" in out.stdout and out.stdout.strip().endswith("False"), out.stderr


def test_older_bundle_without_split_still_evaluates(tiny_bundle, tmp_path, ett_small):
    import shutil

    from forecaster.bundle import write_meta

    copy = shutil.copytree(tiny_bundle, tmp_path / "old")
    meta = json.loads((copy / "bundle.json").read_text())
    del meta["split"]
    write_meta(copy, meta)
    assert evaluate(forecaster.load(copy), ett_small).windows > 0


def test_bundle_with_split_fractions_only_warns(tiny_bundle, tiny_model, tmp_path, ett_small, caplog):
    import shutil

    from forecaster.bundle import write_meta

    copy = shutil.copytree(tiny_bundle, tmp_path / "fractions")
    meta = json.loads((copy / "bundle.json").read_text())
    meta["split"] = {"val": 0.1, "test": 0.2, "train_end": None, "val_end": None}
    write_meta(copy, meta)
    with caplog.at_level("WARNING"):
        assert evaluate(forecaster.load(copy), ett_small).windows == tiny_model.window_counts_["test"]
    assert "records no split borders" in caplog.text


def test_mase_is_scaled_by_the_in_sample_seasonal_naive(tiny_model, ett_small):
    result = evaluate(tiny_model, ett_small)  # period 24 detected for hourly data
    ot = ett_small["OT"].to_numpy()[:840]  # the train split: 70 % of 1,200 hourly rows
    scale = np.mean(np.abs(ot[24:] - ot[:-24]))
    np.testing.assert_allclose(result.scores[MODEL]["mase"], result.scores[MODEL]["mae"] / scale)
