"""The ETT benchmark protocol: borders, scaler rows, window counts, metric on scaled values,
and the benchmark's numbers reproduced through `forecaster.load(bundle).predict(frame)`."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from helpers import DATA, ETT_COLUMNS, ROOT

from benchmarks.ltsf import Protocol, cut_windows, scaled_errors
from pipelines import read_csv
from pipelines.errors import ForecasterError


@pytest.mark.parametrize("L", [96, 336, 720])
def test_etth_borders_and_window_counts(L):
    p = Protocol("ETTh1", lookback=L, horizon=96)
    assert p.borders == {"train": (0, 8640), "val": (8640 - L, 11520), "test": (11520 - L, 14400)}
    for H in (96, 192, 336, 720):
        q = Protocol("ETTh2", lookback=L, horizon=H)
        assert q.window_count("test") == 2881 - H
        assert q.window_count("val") == 2881 - H
        assert q.window_count("train") == 8640 - L - H + 1
        starts = q.window_starts("test")
        assert starts[0] == 11520 - L and starts[-1] + L + H == 14400  # the last window ends at the border


def test_ettm_borders_are_four_times():
    p = Protocol("ETTm1", lookback=720, horizon=96)
    assert p.borders == {"train": (0, 34560), "val": (34560 - 720, 46080), "test": (46080 - 720, 57600)}
    assert p.window_count("test") == 4 * 2880 + 1 - 96 and p.freq == "15min"


def test_scaler_is_fit_on_train_rows_only():
    frame = read_csv(DATA / "ETTh1.csv")
    values = frame[ETT_COLUMNS].to_numpy()
    scaler = Protocol("ETTh1", lookback=336, horizon=96).fit_scaler(values, ETT_COLUMNS)
    np.testing.assert_allclose(scaler.mean_, values[:8640].mean(axis=0))
    np.testing.assert_allclose(scaler.scale_, values[:8640].std(axis=0))
    assert not np.allclose(scaler.mean_, values[:14400].mean(axis=0))
    with pytest.raises(ForecasterError, match="needs 14400 rows"):
        Protocol("ETTh1", lookback=336, horizon=96).fit_scaler(values[:9000], ETT_COLUMNS)


def test_metric_on_scaled_values():
    values = np.arange(30.0).reshape(15, 2)
    X, y = cut_windows(values, np.array([0, 4]), 3, 2)
    assert X[1, 0].tolist() == [8.0, 9.0] and y[1, 0].tolist() == [14.0, 15.0]
    mse, mae = scaled_errors(y, y + np.array([1.0, -3.0]))
    assert (mse, mae) == (5.0, 2.0)  # averaged over windows, steps and channels


def _bench():
    spec = importlib.util.spec_from_file_location("ett_bench", ROOT / "benchmarks" / "ett.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_benchmark_mse_is_reproduced_by_the_public_library(tmp_path):
    import forecaster

    bench = _bench()
    frame = read_csv(DATA / "ETTh1.csv")
    params = bench.BEST.__class__(**{**bench.BEST.to_dict(), "units": 4, "epochs": 1, "segment": 12})
    row, model = bench.run(frame, "ETTh1", 24, "M", params, lookback=48, time_budget=None, verbose=0,
                           steps_per_epoch=20)
    assert row["test_windows"] == 2881 - 24
    model.save(tmp_path / "b")
    loaded = forecaster.load(tmp_path / "b")
    proto = Protocol("ETTh1", lookback=48, horizon=24)
    scaled = loaded.scaler_.transform(frame[ETT_COLUMNS].to_numpy())
    errors = []
    for s in proto.window_starts("test")[::7]:  # every 7th window: a frame of L rows, date + 7 columns
        forecast = loaded.predict(frame.iloc[s : s + 48][["date", *ETT_COLUMNS]])
        errors.append(loaded.scaler_.transform(forecast[ETT_COLUMNS].to_numpy()) - scaled[s + 48 : s + 72])
    errors = np.stack(errors)
    _, y = cut_windows(scaled, proto.window_starts("test")[::7], 48, 24)
    direct = loaded._predict_scaled(cut_windows(scaled, proto.window_starts("test")[::7], 48, 24)[0])
    assert float(np.mean(errors**2)) == pytest.approx(scaled_errors(y, direct)[0], rel=1e-9)
    # and the full-split MSE the benchmark reported equals the library's on all windows
    X_all, y_all = cut_windows(scaled, proto.window_starts("test"), 48, 24)
    assert scaled_errors(y_all, loaded._predict_scaled(X_all))[0] == pytest.approx(row["mse"], rel=1e-6)
    check = bench.library_check(loaded, model, frame, "ETTh1", 24, 48, list(ETT_COLUMNS), 5)
    assert check["max_abs_diff"] < 1e-5
    assert check["library_mse"] == pytest.approx(check["benchmark_mse"], rel=1e-6)
    # the bundle's scaler is the one fit on the 8,640 training rows, not on all rows
    train_rows = frame[ETT_COLUMNS].to_numpy("float64")[:8640]
    np.testing.assert_allclose(loaded.scaler_.mean_, train_rows.mean(axis=0), rtol=1e-9)
    np.testing.assert_allclose(loaded.scaler_.scale_, train_rows.std(axis=0), rtol=1e-9)


@pytest.mark.slow
def test_benchmark_command_line(tmp_path):
    """One tiny run through the command line: the row, the published rows beside it, the results
    files, the saved bundle (loadable, cut at the protocol's borders) and the library check."""
    import json

    from click.testing import CliRunner

    import forecaster

    bench = _bench()
    args = ["--data-dir", str(DATA), "--dataset", "ETTh1", "--horizon", "96", "--lookback", "48", "--units", "4",
            "--segment", "12", "--epochs", "1", "--ensemble", "1", "--steps-per-epoch", "3", "--check", "3",
            "--save-bundle", str(tmp_path / "b"), "--out", str(tmp_path / "out")]
    result = CliRunner().invoke(bench.main, args)
    assert result.exit_code == 0, result.output
    assert "| ETTh1 | M | 96 | | DLinear (L=336) (published) | 0.375 |" in result.output
    rows = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [(r["dataset"], r["horizon"], r["lookback"], r["test_windows"]) for r in rows] == [("ETTh1", 96, 48, 2785)]
    assert rows[0]["library_max_abs_diff"] < 1e-5
    assert rows[0]["library_check_mse"][1] == pytest.approx(rows[0]["library_check_mse"][0], rel=1e-6)
    assert (tmp_path / "out" / "results.jsonl").read_text().count("\n") == 1
    assert "ETTh1" in (tmp_path / "out" / "results.md").read_text()
    loaded = forecaster.load(tmp_path / "b")
    dates = read_csv(DATA / "ETTh1.csv")["date"]
    assert loaded.split_.train_end == dates.iloc[8640] and loaded.split_.val_end == dates.iloc[11520]
    # a bundle is one run: two horizons with --save-bundle is a usage error (exit 2)
    bad = CliRunner().invoke(bench.main, [*args[:6], "--horizon", "all", "--save-bundle", str(tmp_path / "c")])
    assert bad.exit_code == 2 and "single run" in bad.output


@pytest.mark.slow
def test_blend_averages_a_saved_bundle_of_another_design_into_the_run(tmp_path):
    """`--blend A`: the scored and saved model averages A's networks (another design) with the
    run's, each weighing the same; its MSE is that of the averaged forecasts, the saved blend
    passes the library check, and a bundle of another horizon is a one-line error before training."""
    import json

    from click.testing import CliRunner

    import forecaster
    from benchmarks.parts import members_of

    bench = _bench()
    base = ["--data-dir", str(DATA), "--dataset", "ETTh1", "--horizon", "96", "--lookback", "48", "--units", "4",
            "--epochs", "1", "--steps-per-epoch", "2", "--check", "3"]
    first = CliRunner().invoke(bench.main, [*base, "--segment", "12", "--ensemble", "2", "--save-bundle",
                                            str(tmp_path / "a"), "--out", str(tmp_path / "out_a")])
    assert first.exit_code == 0, first.output
    second = CliRunner().invoke(bench.main, [*base, "--segment", "24", "--ensemble", "1", "--seed", "7",
                                             "--blend", str(tmp_path / "a"), "--save-bundle", str(tmp_path / "b"),
                                             "--out", str(tmp_path / "out_b")])
    assert second.exit_code == 0, second.output
    row = json.loads((tmp_path / "out_b" / "results.json").read_text())[0]
    a, b = forecaster.load(tmp_path / "a"), forecaster.load(tmp_path / "b")
    assert len(members_of(b.model_)) == 3 and row["blended_with"][0]["networks"] == 2
    assert row["blended_with"][0]["params"]["segment"] == 12 and row["params"]["segment"] == 24
    assert "(blended)" in second.output
    assert row["library_max_abs_diff"] < 1e-5
    # the blend's forecast is the mean of its three networks (A's two and the new one)
    proto = bench.Protocol("ETTh1", lookback=48, horizon=96)
    X, _ = bench.cut_windows(a.scaler_.transform(read_csv(DATA / "ETTh1.csv")[ETT_COLUMNS].to_numpy("float64")),
                             proto.window_starts("test")[:64], 48, 96)
    mean = np.mean([np.asarray(m(X.astype("float32"), training=False)) for m in members_of(b.model_)], axis=0)
    np.testing.assert_allclose(b._predict_scaled(X), mean, atol=1e-5)
    np.testing.assert_allclose(np.asarray(members_of(b.model_)[1](X.astype("float32"), training=False)),
                               np.asarray(members_of(a.model_)[0](X.astype("float32"), training=False)), atol=1e-6)
    assert row["member_mse"] is not None and len(row["member_mse"]) == 3
    bad = CliRunner().invoke(bench.main, [*base[:4], "--horizon", "192", *base[6:], "--blend", str(tmp_path / "a"),
                                          "--out", str(tmp_path / "out_c")])
    assert bad.exit_code == 1 and len(bad.output.strip().splitlines()) == 1, bad.output
    assert "forecasts 96 steps" in bad.output and "this run forecasts 192" in bad.output
    assert not (tmp_path / "out_c" / "results.jsonl").exists()
    other = CliRunner().invoke(bench.main, [*base[:2], "--dataset", "ETTh2", *base[4:], "--blend", str(tmp_path / "a"),
                                            "--out", str(tmp_path / "out_c")])
    assert other.exit_code == 1 and "other training statistics" in other.output, other.output
    assert not (tmp_path / "out_c" / "results.jsonl").exists()


def test_a_missing_or_bad_data_file_is_one_line_before_any_training(tmp_path):
    """Every dataset is read before training starts: a missing file or a malformed row of the
    second dataset stops the command at once with one line naming the file (and row, column)."""
    from click.testing import CliRunner

    bench = _bench()
    (tmp_path / "ETTh1.csv").write_text((DATA / "ETTh1.csv").read_text())
    lines = (DATA / "ETTh2.csv").read_text().splitlines()
    lines[4] = lines[4].rsplit(",", 1)[0] + ",abc"
    (tmp_path / "ETTh2.csv").write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    missing = CliRunner().invoke(bench.main, ["--data-dir", str(tmp_path / "none"), "--out", str(out)])
    assert missing.exit_code == 1 and missing.output.strip().splitlines() == [
        f"Error: no {tmp_path / 'none' / 'ETTh1.csv'}; pass --data-dir (the folder with ETTh1.csv ...)"]
    bad = CliRunner().invoke(bench.main, ["--data-dir", str(tmp_path), "--dataset", "ETTh1", "--dataset", "ETTh2",
                                          "--out", str(out)])
    assert bad.exit_code == 1
    assert bad.output.strip().splitlines() == [f"Error: {tmp_path / 'ETTh2.csv'}, line 5, column 'OT': not a number: 'abc'"]
    assert not (out / "results.jsonl").exists()  # nothing trained, nothing written


@pytest.mark.slow
def test_a_failed_library_check_keeps_the_scored_row(tmp_path, monkeypatch):
    """Hours of training are not lost when the check after them fails: the row is written
    with the error, and the saved bundle stays."""
    import json

    from click.testing import CliRunner

    bench = _bench()

    def broken_check(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(bench, "library_check", broken_check)
    args = ["--data-dir", str(DATA), "--dataset", "ETTh1", "--horizon", "96", "--lookback", "48", "--units", "4",
            "--segment", "12", "--epochs", "1", "--ensemble", "1", "--steps-per-epoch", "2", "--check", "3",
            "--save-bundle", str(tmp_path / "b"), "--out", str(tmp_path / "out")]
    result = CliRunner().invoke(bench.main, args)
    assert result.exit_code == 0, result.output
    rows = json.loads((tmp_path / "out" / "results.json").read_text())
    assert rows[0]["library_check_error"] == "OSError: disk full"
    assert rows[0]["mse"] > 0 and "library_max_abs_diff" not in rows[0]
    assert (tmp_path / "b" / "bundle.json").is_file()


def test_benchmark_defaults_per_horizon():
    """Learning rate 1e-3 and patience 3 up to H=192, 3e-4 and 5 from 336 on; flags win."""
    bench = _bench()
    picked = {h: bench.params_for(bench.BEST, h, {}) for h in (96, 192, 336, 720)}
    assert [(p.learning_rate, p.patience) for p in picked.values()] == [(1e-3, 3), (1e-3, 3), (3e-4, 5), (3e-4, 5)]
    chosen = bench.params_for(bench.BEST, 720, {"learning_rate": 1e-3})
    assert (chosen.learning_rate, chosen.patience) == (1e-3, 5)
    assert bench.params_for(bench.BEST, 96, {"patience": 8}).patience == 8
