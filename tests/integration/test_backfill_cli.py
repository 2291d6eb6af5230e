"""`forecaster train-backfill` and `forecaster backfill`: training, bad input, a clean no-op, help."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import DATA, ROOT

from forecaster.cli import main

HEAD = (DATA / "ETTh1.csv").read_text().splitlines()[:401]


@pytest.fixture(scope="module")
def cli_bundle(tmp_path_factory) -> Path:
    """A backfill bundle trained by the command (tiny: window 16, one epoch)."""
    folder = tmp_path_factory.mktemp("cli-backfill")
    data = folder / "train.csv"
    data.write_text("\n".join(HEAD) + "\n")
    out = folder / "bf"
    code = main(["train-backfill", "--data", str(data), "--out", str(out), "--features", "HUFL,OT",
                 "--window", "16", "--max-fill", "4", "--min-context", "2", "--layers", "1", "--units", "4",
                 "--epochs", "1", "--no-progress"])
    assert code == 0
    return out


def test_train_backfill_writes_a_backfill_bundle(cli_bundle, capsys):
    meta = json.loads((cli_bundle / "bundle.json").read_text())
    assert meta["kind"] == "backfill" and meta["spec"]["features"] == ["HUFL", "OT"]
    assert meta["spec"]["window"] == 16 and meta["params"]["layers"] == 1 and meta["name"] == "bf"


def test_a_file_without_gaps_is_a_clean_no_op_without_tensorflow(cli_bundle, tmp_path):
    data, out = tmp_path / "complete.csv", tmp_path / "out.csv"
    data.write_text("\n".join(HEAD[:50]) + "\n")
    code = ("import sys; from forecaster.cli import main; "
            f"rc = main(['backfill', '--model', {str(cli_bundle)!r}, '--data', {str(data)!r}, '--out', {str(out)!r}]); "
            "print(rc, 'tensorflow' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.stderr == ""
    assert "no gaps in" in result.stdout and "nothing to fill" in result.stdout
    assert result.stdout.split()[-2:] == ["0", "False"]
    written = out.read_text().splitlines()
    assert written == [HEAD[0] + ",HUFL_filled,OT_filled"] + [line + ",0,0" for line in HEAD[1:50]]


def bad(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    return path


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("forecaster: error: ") and "Traceback" not in err
    return err


def test_no_time_column(cli_bundle, tmp_path, capsys):
    path = bad(tmp_path, "HUFL,OT\n1.0,2.0\n,3.0\n")
    assert main(["backfill", "--model", str(cli_bundle), "--data", str(path), "--out", str(tmp_path / "o.csv")]) == 2
    err = one_error_line(capsys)
    assert "line 1: no time column" in err and "--time-col" in err


def test_unknown_sensor_column(cli_bundle, tmp_path, capsys):
    path = bad(tmp_path, "date,HUFL,OT\n2026-01-01 00:00,1,2\n")
    assert main(["backfill", "--model", str(cli_bundle), "--data", str(path), "--out", str(tmp_path / "o.csv"),
                 "--sensor-col", "device"]) == 2
    assert "no column 'device' (--sensor-col)" in one_error_line(capsys)


def test_missing_model_column(cli_bundle, tmp_path, capsys):
    path = bad(tmp_path, "date,HUFL\n2026-01-01 00:00,1\n2026-01-01 01:00,\n")
    assert main(["backfill", "--model", str(cli_bundle), "--data", str(path), "--out", str(tmp_path / "o.csv")]) == 2
    assert "missing column(s) ['OT'] that the model needs" in one_error_line(capsys)


def test_bad_values_are_located(cli_bundle, tmp_path, capsys):
    path = bad(tmp_path, "date,HUFL,OT\n2026-01-01 00:00,1,2\n2026-01-01 01:00,x,3\n")
    assert main(["backfill", "--model", str(cli_bundle), "--data", str(path), "--out", str(tmp_path / "o.csv")]) == 2
    assert "line 3, column 'HUFL': not a number" in one_error_line(capsys)


def test_already_backfilled_file_is_refused(cli_bundle, tmp_path, capsys):
    path = bad(tmp_path, "date,HUFL,OT,OT_filled\n2026-01-01 00:00,1,2,0\n")
    assert main(["backfill", "--model", str(cli_bundle), "--data", str(path), "--out", str(tmp_path / "o.csv")]) == 2
    assert "['OT_filled'] already exist" in one_error_line(capsys)


def test_train_backfill_bad_parameters_before_training(tmp_path, capsys):
    data = DATA / "ETTh1.csv"
    assert main(["train-backfill", "--data", str(data), "--out", str(tmp_path / "b"), "--window", "8",
                 "--max-fill", "6", "--min-context", "2"]) == 2
    assert "`window` must hold max_fill + 2 * min_context = 10 slots" in one_error_line(capsys)
    assert main(["train-backfill", "--data", str(data), "--out", str(tmp_path / "b"), "--features", "nope"]) == 2
    assert "no column(s) ['nope']" in one_error_line(capsys)


@pytest.mark.parametrize("command", [["train-backfill"], ["backfill"]])
def test_help_has_an_example_and_does_not_load_tensorflow(command):
    code = ("import sys; from forecaster.cli import main; "
            f"rc = main({command + ['--help']!r}); print('TF', 'tensorflow' in sys.modules, rc)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert "Example" in result.stdout and "forecaster " + command[0] in result.stdout
    assert result.stdout.strip().endswith("TF False 0")
