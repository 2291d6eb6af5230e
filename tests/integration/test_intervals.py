"""Issue 21: conformal prediction intervals from training to `predict` (library and command line),
in the bundle as plain numbers, and one clear line for a bundle or a level without them."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from helpers import DATA, ETT_COLUMNS

import forecaster
from forecaster.bundle import read_meta, write_meta
from forecaster.cli.app import main
from forecaster.evaluate.scores import split_windows
from pipelines import WindowSpec
from pipelines.split import TEST


@pytest.fixture(scope="module")
def csv(ett_small, tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "ett.csv"
    ett_small.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def old_bundle(tiny_bundle, tmp_path_factory):
    """`tiny_bundle` as written before intervals existed (no ``intervals`` in bundle.json)."""
    import shutil

    old = tmp_path_factory.mktemp("old") / "old"
    shutil.copytree(tiny_bundle, old)
    meta = read_meta(old)
    meta.pop("intervals")
    meta.pop("files")
    write_meta(old, meta)
    return old


def test_training_calibrates_the_default_levels_on_the_validation_windows(tiny_model, ett_small):
    table = tiny_model.intervals_
    assert table.available == ["0.8", "0.95"] and table.windows_ == tiny_model.window_counts_["validation"]
    out = tiny_model.predict(ett_small, interval=0.95)
    assert list(out.columns) == ["ts", "OT", "OT_lo", "OT_hi"] and len(out) == 6
    narrow = tiny_model.predict(ett_small, interval=0.8)
    assert (out["OT_lo"] < narrow["OT_lo"]).all() and (narrow["OT_lo"] < narrow["OT_hi"]).all()
    assert (out["OT_hi"] > narrow["OT_hi"]).all()
    pd.testing.assert_frame_equal(out[["ts", "OT"]], tiny_model.predict(ett_small))


def test_the_bundle_holds_the_table_as_plain_numbers_and_loads_it(tiny_bundle, tiny_model, ett_small):
    table = json.loads((tiny_bundle / "bundle.json").read_text())["intervals"]
    assert table["residual"] == "signed" and table["scale"] == "window" and table["calibration"] == "validation windows"
    assert np.shape(table["levels"]["0.95"]["lower"]) == (6, 1)
    loaded = forecaster.load(tiny_bundle)
    pd.testing.assert_frame_equal(loaded.predict(ett_small, interval=0.95), tiny_model.predict(ett_small, interval=0.95))


def test_coverage_on_the_test_split_is_near_nominal_at_every_step_for_a_small_model():
    """A looser version of the benchmark's check: a 2-epoch model of 8 units on 6,000 hours of
    ETTh1 (measured: 0.78-0.84 and 0.94-0.96 per step); within 5 points at every step."""
    frame = forecaster.read_csv(DATA / "ETTh1.csv").iloc[:6000]
    spec = WindowSpec(input_steps=24, horizon=6, features=["OT"], targets=["OT"])
    model = forecaster.train(frame, spec, units=8, epochs=2, seed=1)
    test = split_windows(model, frame)[0][TEST]
    forecast = model.predict_windows(test.X)
    for level in (0.8, 0.95):
        lo, hi = model.interval_bounds(test.X, forecast, level)
        coverage = ((test.y >= lo) & (test.y <= hi)).mean(axis=0)[:, 0]
        assert np.all(np.abs(coverage - level) < 0.05), (level, coverage)


def test_predict_command_writes_lo_and_hi_beside_each_target(tiny_bundle, tiny_model, ett_small, csv, tmp_path):
    out = tmp_path / "f.csv"
    assert main(["predict", "--model", str(tiny_bundle), "--data", str(csv), "--out", str(out), "--interval", "0.8",
                 "--plot", str(tmp_path / "f.png")]) == 0
    written = pd.read_csv(out)
    assert list(written.columns) == ["sensor", "ts", "OT", "OT_lo", "OT_hi"]
    expected = tiny_model.predict(ett_small, interval=0.8)
    np.testing.assert_allclose(written[["OT", "OT_lo", "OT_hi"]], expected[["OT", "OT_lo", "OT_hi"]], atol=1e-9)
    assert (tmp_path / "f.png").stat().st_size > 0


def test_a_level_not_calibrated_is_one_line_naming_the_levels(tiny_bundle, tiny_model, ett_small, csv, tmp_path,
                                                              capsys):
    assert main(["predict", "--model", str(tiny_bundle), "--data", str(csv), "--out", str(tmp_path / "f.csv"),
                 "--interval", "0.9"]) == 2
    assert capsys.readouterr().err == f"forecaster: error: {tiny_bundle}: no interval at level 0.9; calibrated levels: 0.8, 0.95\n"
    with pytest.raises(forecaster.ForecasterError, match="^no interval at level 0.9 in this model; calibrated levels: 0.8, 0.95$"):
        tiny_model.predict(ett_small, interval=0.9)
    assert not (tmp_path / "f.csv").exists()


def test_a_bundle_without_intervals_loads_and_asking_it_for_one_is_one_line(old_bundle, ett_small, csv, tmp_path,
                                                                            capsys):
    model = forecaster.load(old_bundle)
    assert model.intervals_ is None and list(model.predict(ett_small).columns) == ["ts", "OT"]
    with pytest.raises(forecaster.ForecasterError, match="^this model has no prediction intervals"):
        model.predict(ett_small, interval=0.95)
    assert main(["predict", "--model", str(old_bundle), "--data", str(csv), "--out", str(tmp_path / "f.csv"),
                 "--interval", "0.95"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"forecaster: error: {old_bundle}: this model has no prediction intervals") and err.count("\n") == 1
    assert main(["predict", "--model", str(old_bundle), "--data", str(csv), "--out", str(tmp_path / "g.csv")]) == 0


def test_train_command_takes_the_levels_or_none(csv, tmp_path, capsys):
    common = ["--data", str(csv), "--features", ",".join(ETT_COLUMNS), "--targets", "OT", "--input-steps", "24",
              "--horizon", "6", "--units", "4", "--epochs", "1", "--no-progress"]
    assert main(["train", "--out", str(tmp_path / "a"), "--intervals", "0.9", *common]) == 0
    assert "prediction intervals at 0.9 calibrated on" in capsys.readouterr().out
    assert list(json.loads((tmp_path / "a" / "bundle.json").read_text())["intervals"]["levels"]) == ["0.9"]
    assert main(["train", "--out", str(tmp_path / "b"), "--intervals", "none", *common]) == 0
    assert "intervals" not in json.loads((tmp_path / "b" / "bundle.json").read_text())
    assert main(["train", "--out", str(tmp_path / "c"), "--intervals", "95", *common]) == 2
    assert capsys.readouterr().err == ("forecaster: error: an interval level must be a number between 0 and 1 "
                                       "(e.g. 0.95). Received: '95'\n")


def test_evaluate_scores_each_level_beside_the_point_metrics(tiny_bundle, tiny_model, ett_small, csv, tmp_path,
                                                            capsys):
    from forecaster.evaluate.scores import evaluate

    result = evaluate(tiny_model, ett_small)
    test = split_windows(tiny_model, ett_small)[0][TEST]
    lo, hi = tiny_model.interval_bounds(test.X, tiny_model.predict_windows(test.X), 0.95)
    inside = (test.y >= lo) & (test.y <= hi)
    np.testing.assert_allclose(result.intervals["0.95"]["coverage"], inside.mean(axis=0))
    np.testing.assert_allclose(result.intervals["0.95"]["width"], (hi - lo).mean(axis=0))
    miss = np.maximum(lo - test.y, 0) + np.maximum(test.y - hi, 0)
    np.testing.assert_allclose(result.intervals["0.95"]["winkler"], (hi - lo + 40 * miss).mean(axis=0))
    assert main(["evaluate", "--model", str(tiny_bundle), "--data", str(csv), "--json", str(tmp_path / "e.json"),
                 "--report", str(tmp_path / "e.md"), "--plot", str(tmp_path / "e.png")]) == 0
    assert "| target | level | coverage | mean width | Winkler score |" in capsys.readouterr().out
    scores = json.loads((tmp_path / "e.json").read_text())["intervals"]
    assert set(scores) == {"0.8", "0.95"} and len(scores["0.8"]["per_step"]["coverage"]) == 6
    assert scores["0.95"]["summary"]["coverage"]["OT"] == pytest.approx(inside.mean())
    assert "### Coverage and width by horizon step" in (tmp_path / "e.md").read_text()


def test_evaluate_of_a_bundle_without_intervals_leaves_them_out(old_bundle, csv, tmp_path, capsys):
    assert main(["evaluate", "--model", str(old_bundle), "--data", str(csv), "--json", str(tmp_path / "e.json"),
                 "--plot", str(tmp_path / "e.png")]) == 0
    assert "Winkler" not in capsys.readouterr().out
    assert json.loads((tmp_path / "e.json").read_text())["intervals"] == {}
