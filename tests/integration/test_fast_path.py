"""The fast predict path and the edge export: same numbers as Keras, sensors never mixed."""

from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pytest
from helpers import ETT_COLUMNS, ROOT

import forecaster
from forecaster.nn.inference import BUCKETS, Predictor


@pytest.fixture(scope="module")
def windows(ett_small):
    values = ett_small[ETT_COLUMNS].to_numpy()
    return np.stack([values[i : i + 24] for i in range(0, 1100, 1)])


@pytest.mark.parametrize("n", [1, 3, 17, 300, 1100])
def test_equals_keras_predict_for_any_batch_size(tiny_model, windows, n):
    scaled = tiny_model.scaler_.transform(windows[:n]).astype("float32")
    expected = tiny_model.model_.predict(scaled, verbose=0)
    np.testing.assert_allclose(tiny_model.predictor(scaled), expected, atol=1e-5)


def test_batching_does_not_mix_windows(tiny_model, windows):
    together = tiny_model.predict_windows(windows[:40])
    alone = np.concatenate([tiny_model.predict_windows(windows[i : i + 1]) for i in range(40)])
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_warmup_compiles_every_bucket(tiny_model):
    predictor = Predictor(tiny_model.model_)
    predictor.warmup()
    assert predictor._compiled >= set(BUCKETS)
    assert predictor.jit  # XLA agreed with the plain graph on this network


def test_tflite_export_matches_keras_and_runs_without_keras(tiny_bundle, ett_small, tmp_path):
    bundle = shutil.copytree(tiny_bundle, tmp_path / "b")
    result = subprocess.run([sys.executable, "-m", "forecaster", "export", "--model", str(bundle), "--format", "tflite"],
                            capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "" and "model.tflite" in result.stdout
    keras_model = forecaster.load(bundle)  # checksums still valid after the export
    edge = forecaster.load(bundle, runtime="tflite")  # the library's entry point takes the runtime too
    assert not hasattr(edge, "model_")
    np.testing.assert_allclose(edge.predict(ett_small)["OT"], keras_model.predict(ett_small)["OT"], atol=1e-4)
    csv = tmp_path / "rows.csv"
    ett_small.to_csv(csv, index=False)
    code = ("import sys, forecaster, pandas as pd; m = forecaster.load(sys.argv[1], runtime='tflite'); "
            "f = m.predict(pd.read_csv(sys.argv[2])); print(len(f), 'tensorflow' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code, str(bundle), str(csv)], capture_output=True, text=True,
                            cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(len(edge.predict(ett_small))), "False"]  # forecasts, TensorFlow never loaded


def test_tflite_runtime_needs_an_export(tiny_bundle):
    with pytest.raises(forecaster.ForecasterError, match="forecaster export"):
        forecaster.load(tiny_bundle, runtime="tflite")
