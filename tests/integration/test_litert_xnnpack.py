"""The LiteRT runtime with the XNNPACK delegate gives Keras' numbers on every call, not only the
first at a batch size. A combined bundle once returned wrong forecasts (off by up to 1.7 here) from
the second call at a new largest batch size on, in fresh processes (see `forecaster.nn.litert`)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from helpers import ROOT, synthetic_frame

import forecaster
from forecaster.export import export_tflite
from pipelines import WindowSpec

SPEC = WindowSpec(input_steps=24, horizon=6, features=["load", "temp"], targets=["temp"])
# the family that showed it here: conv front and a shared linear path, combined with the baselines
FAULTY = {"units": 4, "epochs": 1, "seed": 5, "cell": "gru", "conv": True, "linear": "shared",
          "combine": "baselines", "intervals": ()}
# new largest sizes (where it struck), then smaller and repeated ones
BATCHES = [2, 2, 2, 8, 8, 8, 64, 64, 64, 1, 1, 3, 3, 64, 1, 3, 100, 100, 100, 2, 2]

# a fresh process that imports no TensorFlow (it struck in the first interpreter of a process)
CALLS = """
import json, sys, numpy as np
from forecaster.bundle import read_meta
from forecaster.nn.litert import TFLitePredictor
bundle, refs, threads = sys.argv[1], np.load(sys.argv[2]), int(sys.argv[3])
predictor = TFLitePredictor.from_bundle(bundle, read_meta(bundle), threads=threads)
diffs = [float(np.abs(predictor(refs[f"x{k}"]) - refs[f"y{k}"]).max()) for k in range(len(refs.files) // 2)]
print(json.dumps({"xnnpack": predictor.xnnpack, "diffs": diffs}))
"""


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    """(bundle directory, Keras forecasts of random windows at the sizes of BATCHES, as .npz)."""
    out = tmp_path_factory.mktemp("xnnpack")
    model = forecaster.train(synthetic_frame(600, sensors=("a", "b")), SPEC, **FAULTY)
    directory = model.save(out / "combined")
    export_tflite(directory)
    rng = np.random.default_rng(0)
    windows = [rng.normal(size=(n, SPEC.input_steps, len(SPEC.features))).astype("float32") for n in BATCHES]
    refs = {f"x{k}": x for k, x in enumerate(windows)}
    refs.update({f"y{k}": model.model_.predict(x, verbose=0) for k, x in enumerate(windows)})
    np.savez(out / "refs.npz", **refs)
    return directory, out / "refs.npz"


@pytest.mark.parametrize("threads", [1, 2])
def test_repeated_calls_with_xnnpack_equal_keras_in_fresh_processes(bundle, threads):
    directory, refs = bundle
    for _ in range(3):
        result = subprocess.run([sys.executable, "-c", CALLS, str(directory), str(refs), str(threads)],
                                capture_output=True, text=True, cwd=ROOT, timeout=120)
        assert result.returncode == 0, result.stderr
        got = json.loads(result.stdout.splitlines()[-1])
        assert got["xnnpack"]  # a combined bundle runs with the delegate too
        wrong = [(k, n, round(d, 3)) for k, (n, d) in enumerate(zip(BATCHES, got["diffs"])) if not d <= 1e-4]
        assert wrong == [], f"(call, batch, max abs diff) off Keras with {threads} threads"
