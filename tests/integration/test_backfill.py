"""Backfill end to end with a tiny real network: library, bundle, CLI, and the forecasting guard."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import DATA, ETT_COLUMNS, ROOT

import forecaster
from forecaster.backfill.estimator import Backfiller
from forecaster.cli import main
from pipelines.gaps import FILLED, NO_CONTEXT_BEFORE, TOO_LONG

MAX_FILL = 6


@pytest.fixture(scope="module")
def backfiller(ett_small) -> Backfiller:
    """A tiny bidirectional LSTM (window 24, gaps up to 6) trained for one epoch on ETTh1."""
    return forecaster.train_backfill(ett_small, window=24, max_fill=MAX_FILL, min_context=3, layers=1, units=4,
                                     epochs=1, seed=1)


@pytest.fixture(scope="module")
def bundle(backfiller, tmp_path_factory) -> Path:
    return backfiller.save(tmp_path_factory.mktemp("backfill") / "bf")


ETT_LINES = (DATA / "ETTh1.csv").read_text().splitlines()


@pytest.fixture(scope="module")
def gappy_csv(tmp_path_factory) -> tuple[Path, list[str]]:
    """ETTh1 lines 2-301 with: an empty first OT cell (no context before), a 2-step NaN run
    in OT, 3 missing timestamps, and 10 missing timestamps (longer than max-fill)."""
    lines = ETT_LINES[:301]
    rows = [line.split(",") for line in lines]
    rows[1][7] = ""  # first data row, OT: nothing before it
    rows[50][7] = rows[51][7] = ""  # NaN run of 2 in OT
    rows[120][1] = "NaN"  # one missing HUFL, written as NaN
    keep = [r for i, r in enumerate(rows) if not (100 <= i < 103 or 200 <= i < 210)]
    path = tmp_path_factory.mktemp("gappy") / "gappy.csv"
    text = [",".join(r) for r in keep]
    path.write_text("\n".join(text) + "\n")
    return path, text


def run_backfill(bundle: Path, data: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "forecaster", "backfill", "--model", str(bundle), "--data", str(data),
         "--out", str(out), *extra], capture_output=True, text=True, cwd=ROOT, timeout=300)


def test_cli_fills_gaps_and_keeps_originals_bit_for_bit(bundle, gappy_csv, tmp_path):
    data, original = gappy_csv
    out, report = tmp_path / "filled.csv", tmp_path / "gaps.csv"
    result = run_backfill(bundle, data, out, "--report", str(report))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    written = out.read_text().splitlines()
    flags = [f"{c}_filled" for c in ETT_COLUMNS]
    assert written[0] == original[0] + "," + ",".join(flags)
    by_time = {line.split(",")[0]: line.split(",") for line in written[1:]}
    n_flags = len(flags)
    for line in original[1:]:
        cells = line.split(",")
        out_cells = by_time[cells[0]]
        values, flagged = out_cells[: -n_flags], [f == "1" for f in out_cells[-n_flags:]]
        for j, (was, now) in enumerate(zip(cells[1:], values[1:])):
            if was not in ("", "NaN"):
                assert now == was and not flagged[j]  # a reading is never changed, never flagged
            elif flagged[j]:
                assert float(now) == float(now) and now not in ("", "NaN")  # estimated, flagged
            else:
                assert now == was  # left missing, text untouched
    # the 2-step OT run, the lone HUFL and the 3 missing timestamps are filled and flagged
    assert by_time["2016-07-03 01:00:00"][-1] == "1" and by_time["2016-07-03 02:00:00"][-1] == "1"
    assert by_time["2016-07-05 23:00:00"][-n_flags] == "1"
    for hour in ("2016-07-05 03:00:00", "2016-07-05 04:00:00", "2016-07-05 05:00:00"):
        assert by_time[hour][-n_flags:] == ["1"] * n_flags  # an added row, in the file's time format
    assert [line.split(",")[0] for line in written[1:]] == sorted(by_time)  # added rows in time order
    # the 10-hour gap stays missing and is reported; the first OT cell has no context before it
    assert "2016-07-09 07:00:00" not in by_time and "2016-07-09 06:00:00" in by_time
    assert by_time["2016-07-01 00:00:00"][7] == "" and by_time["2016-07-01 00:00:00"][-1] == "0"
    gaps = pd.read_csv(report)
    long = gaps[gaps["steps"] == 10]
    assert len(long) == 7 and set(long["status"]) == {TOO_LONG} and long["start"].iloc[0] == "2016-07-09T07:00:00Z"
    assert gaps.loc[gaps["start"] == "2016-07-01T00:00:00Z", "status"].tolist() == [NO_CONTEXT_BEFORE]
    assert (gaps["status"] == FILLED).sum() == 7 + 1 + 1
    total_flags = sum(cell == "1" for line in written[1:] for cell in line.split(",")[-n_flags:])
    assert total_flags == 3 * 7 + 2 + 1
    assert "filled 24 values in 9 gaps (3 rows added" in result.stdout
    assert "left 8 gaps (71 values) missing: 7 longer than max-fill, 1 too little context before" in result.stdout


def test_max_fill_leaves_longer_gaps_missing(bundle, gappy_csv, tmp_path):
    data, _ = gappy_csv
    assert main(["backfill", "--model", str(bundle), "--data", str(data), "--out", str(tmp_path / "o.csv"),
                 "--max-fill", "2", "--report", str(tmp_path / "r.csv")]) == 0
    gaps = pd.read_csv(tmp_path / "r.csv")
    assert set(gaps.loc[gaps["steps"] == 3, "status"]) == {TOO_LONG}
    short = gaps[(gaps["steps"] <= 2) & (gaps["start"] != "2016-07-01T00:00:00Z")]
    assert set(short["status"]) == {FILLED} and len(short) == 2
    assert "2016-07-05 03:00:00" not in (tmp_path / "o.csv").read_text()


def test_max_fill_beyond_the_model_is_refused(bundle, gappy_csv, tmp_path, capsys):
    data, _ = gappy_csv
    code = main(["backfill", "--model", str(bundle), "--data", str(data), "--out", str(tmp_path / "o.csv"),
                 "--max-fill", "7"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "must not exceed 6, the longest gap this model was trained to fill" in err


def test_library_fill_leaves_input_and_readings_untouched(backfiller, ett_small):
    frame = ett_small.iloc[:200].copy()
    frame.loc[frame.index[40:44], "OT"] = np.nan
    frame = frame.drop(index=frame.index[90:93])
    before = frame.copy(deep=True)
    result = backfiller.fill(frame)
    pd.testing.assert_frame_equal(frame, before)
    assert result.frame.attrs["source"] == frame.attrs["source"]
    assert len(result.frame) == len(frame) + 3 and (result.source_rows < 0).sum() == 3
    originals = result.frame[result.source_rows >= 0]
    src = frame.iloc[result.source_rows[result.source_rows >= 0]]
    for column in ETT_COLUMNS:
        was, now = src[column].to_numpy(), originals[column].to_numpy()
        read = np.isfinite(was)
        assert np.array_equal(was[read], now[read])  # same float64, bit for bit
        assert (originals[f"{column}_filled"].to_numpy() == ~read).all()
    assert result.frame["OT_filled"].sum() == 4 + 3 and result.filled_values == 4 + 3 * 7
    assert result.frame["date"].is_monotonic_increasing
    assert np.isfinite(result.frame[ETT_COLUMNS].to_numpy()).all()


def test_long_file_fills_every_sensor(bundle, tmp_path):
    lines = (DATA / "ett_two_transformers.csv").read_text().splitlines()
    head = lines[1:121]
    tail = [line for line in lines if line.startswith("etth2,")][:120]
    kept = [line for i, line in enumerate(head + tail) if i not in (60, 61, 180)]
    path = tmp_path / "long.csv"
    path.write_text("\n".join([lines[0], *kept]) + "\n")
    out = tmp_path / "filled.csv"
    assert main(["backfill", "--model", str(bundle), "--data", str(path), "--out", str(out)]) == 0
    filled = pd.read_csv(out)
    assert filled.groupby("sensor").size().to_dict() == {"etth1": 120, "etth2": 120}
    assert filled.groupby("sensor")["OT_filled"].sum().to_dict() == {"etth1": 2, "etth2": 1}


def test_bundle_round_trip(backfiller, bundle, ett_small):
    meta = json.loads((bundle / "bundle.json").read_text())
    assert meta["kind"] == "backfill" and meta["spec"]["max_fill"] == MAX_FILL
    assert set(meta["metrics"]) >= {"mae", "linear_mae", "test_windows"}
    loaded = Backfiller.load(bundle)
    frame = ett_small.iloc[:100].copy()
    frame.loc[frame.index[50:53], ETT_COLUMNS] = np.nan
    pd.testing.assert_frame_equal(loaded.fill(frame).frame, backfiller.fill(frame).frame)


# ---------------------------------------------------------------- the guard
def test_forecasting_refuses_a_backfill_bundle(bundle):
    with pytest.raises(forecaster.ForecasterError, match="backfill bundle .* cannot forecast"):
        forecaster.load(bundle)
    with pytest.raises(forecaster.ForecasterError, match="cannot forecast"):
        forecaster.Forecaster.load(bundle)


def test_forecasting_refuses_any_bidirectional_network(bundle, tmp_path):
    from forecaster.bundle import write_meta

    disguised = shutil.copytree(bundle, tmp_path / "disguised")
    meta = json.loads((disguised / "bundle.json").read_text())
    meta["kind"] = "forecast"
    write_meta(disguised, meta)
    with pytest.raises(forecaster.ForecasterError, match="bidirectional network cannot forecast"):
        forecaster.load(disguised)


def test_predict_cli_refuses_a_backfill_bundle(bundle, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "forecaster", "predict", "--model", str(bundle), "--data", str(DATA / "ETTh1.csv"),
         "--out", str(tmp_path / "f.csv")], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "cannot forecast" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "f.csv").exists()


def test_backfill_refuses_a_forecast_bundle(tiny_bundle, tmp_path, capsys):
    with pytest.raises(forecaster.ForecasterError, match="a forecast bundle cannot backfill"):
        Backfiller.load(tiny_bundle)
    code = main(["backfill", "--model", str(tiny_bundle), "--data", str(DATA / "ETTh1.csv"),
                 "--out", str(tmp_path / "o.csv")])
    assert code == 2 and "cannot backfill" in capsys.readouterr().err
