"""The `forecaster` command: train and predict end to end, exit codes, and a quiet start."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from helpers import DATA, ROOT

from forecaster.cli import main


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m forecaster`` as a user would (a fresh process)."""
    full_env = {**os.environ, **(env or {})}
    full_env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # the CLI must be quiet on its own
    return subprocess.run(
        [sys.executable, "-m", "forecaster", *args], capture_output=True, text=True, cwd=ROOT, env=full_env, timeout=600
    )


@pytest.fixture(scope="module")
def small_csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "small.csv"
    lines = (DATA / "ett_two_transformers.csv").read_text().splitlines()
    head = lines[1:401]
    tail = [line for line in lines if line.startswith("etth2,")][:400]
    path.write_text("\n".join([lines[0], *head, *tail]) + "\n")
    return path


@pytest.fixture(scope="module")
def trained_bundle(small_csv, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bundles") / "two"
    result = run("train", "--data", str(small_csv), "--out", str(out), "--targets", "OT", "--features", "HUFL,HULL,MUFL,MULL,LUFL,LULL,OT", "--input-steps", "24",
                 "--horizon", "6", "--units", "4", "--epochs", "1", "--no-progress")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # no TensorFlow start-up noise
    assert "test MAE OT" in result.stdout
    assert re.search(r"combined with the baselines \(the network's share, .*\): OT \d+%", result.stdout)
    return out


def test_train_ensemble_saves_one_averaged_network(small_csv, tmp_path):
    import forecaster
    from forecaster.nn.combine import network_of

    out = tmp_path / "ens"
    assert main(["train", "--data", str(small_csv), "--out", str(out), "--targets", "OT", "--input-steps", "24",
                 "--horizon", "6", "--units", "4", "--epochs", "1", "--ensemble", "2", "--seed", "3",
                 "--no-progress"]) == 0
    model = forecaster.load(out)
    assert model.params.ensemble == 2 and model.params.seed == 3
    assert [layer.name for layer in network_of(model.model_).layers][1:3] == ["member_1", "member_2"]


def test_train_segrnn_options(small_csv, tmp_path):
    """The SegRNN-style options of the library are options of `forecaster train` too."""
    import forecaster
    from forecaster.nn.combine import network_of

    out = tmp_path / "seg"
    assert main(["train", "--data", str(small_csv), "--out", str(out), "--targets", "OT,HUFL",
                 "--features", "HUFL,HULL,OT", "--input-steps", "24", "--horizon", "6", "--units", "4",
                 "--epochs", "1", "--cell", "gru", "--channel-independent", "--segment", "6",
                 "--decoder", "parallel", "--norm", "mean", "--loss", "mae", "--lr-decay", "0.9",
                 "--no-progress"]) == 0
    p = forecaster.load(out).params
    assert (p.cell, p.channel_independent, p.segment, p.decoder, p.norm, p.loss, p.lr_decay) == (
        "gru", True, 6, "parallel", "mean", "mae", 0.9)
    assert "segment_embedding" in [layer.name for layer in network_of(forecaster.load(out).model_).layers]


def test_train_options_are_the_declared_model_params():
    """`forecaster train` derives its model options from `ModelParams`: same names, defaults and help."""
    from dataclasses import fields

    from forecaster.cli.app import train
    from forecaster.params import ModelParams

    options = {p.name: p for p in train.params}
    for f in fields(ModelParams):
        assert options[f.name].default == f.default and options[f.name].help == f.metadata["help"]
    assert options["cell"].opts == ["--cell"] and options["conv"].secondary_opts == ["--no-conv"]
    assert "residual" not in options and options["model"].hidden  # --model: the deprecated --cell


def test_train_model_is_a_deprecated_alias_of_cell(small_csv, tmp_path, capsys):
    base = ["train", "--data", str(small_csv), "--out", str(tmp_path / "x"), "--targets", "OT"]
    assert main([*base, "--model", "lstm", "--dropout", "1.5"]) == 2  # stops at the params, before training
    err = capsys.readouterr().err
    assert err.splitlines() == ["forecaster: warning: --model is deprecated and will be removed; use --cell",
                                "forecaster: error: `dropout` must be a float in [0, 1). Received: dropout=1.5"]
    assert main([*base, "--model", "lstm", "--cell", "gru"]) == 2
    assert "give --cell only" in capsys.readouterr().err
    assert main([*base, "--norm", "median"]) == 2
    assert "'median' is not one of 'last', 'mean', 'none'" in capsys.readouterr().err


def test_config_model_is_the_bundle_of_the_other_commands_not_trains_deprecated_option(small_csv, tmp_path, capsys):
    """deploy/forecaster.toml sets a top-level `model` (the bundle of serve/predict): train's hidden
    --model (the deprecated --cell) must not pick it up."""
    config = tmp_path / "f.toml"
    config.write_text('model = "/models/etth"\ncell = "lstm"\n')
    assert main(["--config", str(config), "train", "--data", str(small_csv), "--out", str(tmp_path / "x"),
                 "--targets", "OT", "--dropout", "1.5"]) == 2
    assert capsys.readouterr().err == "forecaster: error: `dropout` must be a float in [0, 1). Received: dropout=1.5\n"


def test_train_parallel_decoder_without_segments_is_exit_2(small_csv, tmp_path, capsys):
    assert main(["train", "--data", str(small_csv), "--out", str(tmp_path / "x"), "--targets", "OT",
                 "--segment", "0", "--decoder", "parallel", "--no-progress"]) == 2
    assert "positive for decoder='parallel'" in capsys.readouterr().err


def test_train_then_predict_many_sensors(trained_bundle, small_csv, tmp_path):
    out, plot = tmp_path / "f.csv", tmp_path / "f.png"
    result = run("predict", "--model", str(trained_bundle), "--data", str(small_csv), "--out", str(out), "--plot", str(plot))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    forecast = pd.read_csv(out)
    assert list(forecast.columns) == ["sensor", "ts", "OT"]
    assert forecast.groupby("sensor").size().to_dict() == {"etth1": 6, "etth2": 6}
    assert forecast["ts"].iloc[0] == "2016-07-17T16:00:00Z"  # the hour after etth1's last row
    assert plot.stat().st_size > 10_000 and plot.read_bytes()[:4] == b"\x89PNG"


BAD_CSVS = {
    "not_a_number": ("date,OT\n2026-01-01 00:00,1\n2026-01-01 01:00,x\n", "line 3, column 'OT': not a number"),
    "bad_time": ("date,OT\nnever,1\n", "line 2, column 'date': cannot parse time"),
    "duplicate": ("date,OT\n2026-01-01 00:00,1\n2026-01-01 00:00,2\n", "duplicate timestamp"),
    "empty": ("", "empty file"),
    "header_only": ("date,OT\n", "no data rows"),
    "too_short": ("date,OT\n2026-01-01 00:00,1\n2026-01-01 01:00,2\n2026-01-01 02:00,3\n", "too few rows for one training window"),
}


@pytest.mark.parametrize("case", sorted(BAD_CSVS))
def test_bad_training_csv_exits_2_with_one_line(case, tmp_path, capsys):
    text, expected = BAD_CSVS[case]
    path = tmp_path / f"{case}.csv"
    path.write_text(text)
    code = main(["train", "--data", str(path), "--out", str(tmp_path / "b"), "--input-steps", "4", "--horizon", "2"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("forecaster: error: ") and str(path) in err
    assert expected in err and "Traceback" not in err


def test_bad_csv_is_refused_before_tensorflow_loads(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("date,OT\n2026-01-01 00:00,oops\n")
    code = ("import sys; from forecaster.cli import main; "
            f"rc = main(['train', '--data', {str(path)!r}, '--out', 'x']); "
            "print(rc, 'tensorflow' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.stdout.split() == ["2", "False"]


def test_missing_feature_column_for_predict(trained_bundle, tmp_path, capsys):
    path = tmp_path / "few.csv"
    path.write_text("sensor,date,OT\na,2026-01-01 00:00,1\n")
    assert main(["predict", "--model", str(trained_bundle), "--data", str(path), "--out", str(tmp_path / "o.csv")]) == 2
    assert "missing feature column(s) ['HUFL'" in capsys.readouterr().err


def test_usage_errors_exit_2_with_one_line(capsys):
    assert main(["train", "--data", "x.csv"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Missing option '--out'" in err
    assert main(["train", "--data", "x.csv", "--out", "o", "--dropout", "1.5"]) == 2
    assert "no such file" in capsys.readouterr().err  # input is checked first, then params
    assert main(["nonsense"]) == 2


def test_invalid_parameter_value(tmp_path, capsys):
    assert main(["train", "--data", str(DATA / "ETTh1.csv"), "--out", str(tmp_path / "b"), "--targets", "OT",
                 "--dropout", "1.5"]) == 2
    assert "`dropout` must be a float in [0, 1). Received: dropout=1.5" in capsys.readouterr().err


@pytest.mark.parametrize("command", [[], ["train"], ["predict"]])
def test_help_has_examples_and_does_not_load_tensorflow(command):
    code = ("import sys; from forecaster.cli import main; "
            f"rc = main({command + ['--help']!r}); print('TF', 'tensorflow' in sys.modules, rc)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert "Example" in result.stdout
    assert result.stdout.strip().endswith("TF False 0")


def test_config_file_and_environment_precedence(tmp_path, capsys):
    config = tmp_path / "f.toml"
    config.write_text('[train]\ndropout = 1.5\n')
    data = str(DATA / "ETTh1.csv")
    out = str(tmp_path / "b")
    assert main(["--config", str(config), "train", "--data", data, "--out", out, "--targets", "OT"]) == 2
    assert "dropout=1.5" in capsys.readouterr().err  # TOML reached the command
    os.environ["FORECASTER_TRAIN_DROPOUT"] = "1.25"
    try:
        assert main(["--config", str(config), "train", "--data", data, "--out", out, "--targets", "OT"]) == 2
        assert "dropout=1.25" in capsys.readouterr().err  # environment beats TOML
        assert main(["--config", str(config), "train", "--data", data, "--out", out, "--targets", "OT",
                     "--dropout", "1.125"]) == 2
        assert "dropout=1.125" in capsys.readouterr().err  # flags beat both
    finally:
        del os.environ["FORECASTER_TRAIN_DROPOUT"]


def test_config_typo_is_an_error(tmp_path, capsys):
    config = tmp_path / "f.toml"
    config.write_text("[train]\nepoch = 3\n")
    assert main(["--config", str(config), "train", "--help"]) == 2
    assert "[train] has no option 'epoch'" in capsys.readouterr().err


def test_log_format_json_writes_one_json_object_per_line(tmp_path):
    import json as _json

    result = subprocess.run(
        [sys.executable, "-m", "forecaster", "--log-format", "json", "-v", "train", "--data", str(DATA / "ETTh1.csv"),
         "--out", str(tmp_path / "b"), "--targets", "OT", "--epochs", "1", "--units", "4", "--input-steps", "24",
         "--horizon", "6"],
        capture_output=True, text=True, cwd=ROOT, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    lines = [_json.loads(line) for line in result.stderr.splitlines() if line.strip()]
    assert lines and all({"ts", "level", "logger", "message"} <= set(line) for line in lines)
    assert any(line["level"] == "INFO" for line in lines)
