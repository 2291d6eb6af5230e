"""Issue 19, edge: `predict` and `evaluate` on an install without TensorFlow (LiteRT runs the export)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import DATA, ROOT

from forecaster.cli import main

TENSORFLOW = ("tensorflow", "keras", "tf_keras")
EDGE_LACKS = (*TENSORFLOW, "sklearn", "matplotlib")  # what deploy/requirements-edge.txt leaves out


def without(*args: str, missing: tuple[str, ...] = EDGE_LACKS) -> subprocess.CompletedProcess:
    """``forecaster ARGS`` in a fresh process where every import of ``missing`` fails, as if not
    installed; prints ``LOADED [...]``, the TensorFlow modules that got loaded anyway."""
    code = (f"import sys; sys.modules.update(dict.fromkeys({list(missing)!r}, None)); "
            "from forecaster.cli import main; rc = main(sys.argv[1:]); "
            f"loaded = [m for m, v in sys.modules.items() if v is not None and m.split('.')[0] in {TENSORFLOW!r}]; "
            "print('LOADED', loaded); raise SystemExit(rc)")
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT, timeout=300)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("edge") / "recent.csv"
    path.write_text("\n".join((DATA / "ETTh1.csv").read_text().splitlines()[:801]) + "\n")
    return path


@pytest.fixture(scope="module")
def exported(data, tmp_path_factory) -> Path:
    """A tiny bundle trained and exported (with TensorFlow, as on a workstation)."""
    out = tmp_path_factory.mktemp("bundles") / "edge"
    assert main(["train", "--data", str(data), "--out", str(out), "--targets", "OT", "--features", "HUFL,OT",
                 "--input-steps", "24", "--horizon", "6", "--units", "8", "--epochs", "1", "--no-progress"]) == 0
    assert main(["export", "--model", str(out), "--format", "tflite"]) == 0
    return out


def test_predict_tflite_runs_on_the_edge_install_and_matches_keras(exported, data, tmp_path):
    edge = tmp_path / "edge.csv"
    result = without("predict", "--model", str(exported), "--data", str(data), "--out", str(edge),
                     "--runtime", "tflite")
    assert result.returncode == 0, result.stderr
    assert result.stderr == "" and "LOADED []" in result.stdout
    assert main(["predict", "--model", str(exported), "--data", str(data), "--out", str(tmp_path / "keras.csv")]) == 0
    keras, lite = pd.read_csv(tmp_path / "keras.csv"), pd.read_csv(edge)
    assert list(lite["ts"]) == list(keras["ts"])
    np.testing.assert_allclose(lite["OT"], keras["OT"], atol=1e-4)


def test_predict_tflite_plots_without_tensorflow_and_plot_without_matplotlib_is_one_line(exported, data, tmp_path):
    plot = tmp_path / "edge.png"
    result = without("predict", "--model", str(exported), "--data", str(data), "--out", str(tmp_path / "f.csv"),
                     "--runtime", "tflite", "--plot", str(plot), missing=TENSORFLOW)
    assert result.returncode == 0, result.stderr
    assert "LOADED []" in result.stdout and plot.read_bytes()[:4] == b"\x89PNG"
    result = without("predict", "--model", str(exported), "--data", str(data), "--out", str(tmp_path / "g.csv"),
                     "--runtime", "tflite", "--plot", str(tmp_path / "g.png"))
    assert result.returncode == 2
    assert result.stderr == ("forecaster: error: --plot needs matplotlib, which is not installed here "
                             "(pip install matplotlib)\n")
    assert not (tmp_path / "g.csv").exists()


def test_evaluate_tflite_runs_on_the_edge_install(exported, data, tmp_path):
    out = tmp_path / "edge.json"
    result = without("evaluate", "--model", str(exported), "--data", str(data), "--runtime", "tflite",
                     "--json", str(out))
    assert result.returncode == 0, result.stderr
    assert "LOADED []" in result.stdout and "| OT | model |" in result.stdout and "| OT | linear (ridge) |" in result.stdout
    assert main(["evaluate", "--model", str(exported), "--data", str(data), "--json", str(tmp_path / "k.json")]) == 0
    edge, keras = (json.loads(p.read_text())["summary"]["model"]["mae"]["OT"] for p in (out, tmp_path / "k.json"))
    assert edge == pytest.approx(keras, abs=1e-4)


def test_keras_runtime_without_tensorflow_is_one_line_naming_the_fix(exported, data, tmp_path):
    result = without("predict", "--model", str(exported), "--data", str(data), "--out", str(tmp_path / "f.csv"))
    assert result.returncode == 2
    assert result.stderr == ("forecaster: error: TensorFlow is not installed here: use the tflite runtime "
                             "(--runtime tflite, runtime=\"tflite\") with a bundle exported by `forecaster export`\n")


def test_tflite_runtime_on_a_bundle_without_export_is_exit_2(tiny_bundle, data, tmp_path, capsys):
    assert main(["predict", "--model", str(tiny_bundle), "--data", str(data), "--out", str(tmp_path / "f.csv"),
                 "--runtime", "tflite"]) == 2
    assert "run `forecaster export --model" in capsys.readouterr().err
