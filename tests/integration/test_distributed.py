"""`forecaster train --distributed`: two local workers train what one process trains; only the chief writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import ROOT, synthetic_frame
from mqtt_broker import free_port

import forecaster
from pipelines import read_csv

# 3 sensors x 514 hourly rows: 993 training windows = 31 batches of 32 and one of 1 (one worker's share is empty)
ARGS = ["--targets", "temp", "--features", "load,temp", "--input-steps", "24", "--horizon", "6", "--units", "4",
        "--epochs", "2", "--batch-size", "32", "--seed", "3", "--no-progress"]


def tf_config(ports: list[int], index: int) -> str:
    return json.dumps({"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]}, "task": {"type": "worker", "index": index}})


def train(csv: Path, out: Path, env: dict[str, str], *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "forecaster", "train", "--data", str(csv), "--out", str(out), *ARGS,
                             *extra], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two workers with TF_CONFIG on free local ports, then one process alone: ``(folder, results)``."""
    folder = tmp_path_factory.mktemp("distributed")
    csv = folder / "fleet.csv"
    synthetic_frame(n=514, sensors=("a", "b", "c")).to_csv(csv, index=False)
    ports = [free_port(), free_port()]
    base = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    workers = [train(csv, folder / f"worker{i}", {**base, "TF_CONFIG": tf_config(ports, i)}, "--distributed")
               for i in (0, 1)]
    try:
        results = {f"worker{i}": (p.wait(timeout=900), *p.communicate()) for i, p in enumerate(workers)}
    finally:
        for p in workers:
            p.kill()
    alone = train(csv, folder / "alone", base)
    results["alone"] = (alone.wait(timeout=900), *alone.communicate())
    return folder, results


def test_the_chiefs_bundle_forecasts_what_one_process_trains(runs):
    folder, results = runs
    for name in ("worker0", "alone"):
        assert results[name][0] == 0, results[name][2]
    assert "993 training" in results["worker0"][1] and "saved" in results["worker0"][1]
    frame = read_csv(folder / "fleet.csv")
    chief, alone = forecaster.load(folder / "worker0"), forecaster.load(folder / "alone")
    got, expected = chief.predict(frame), alone.predict(frame)
    assert np.abs(got["temp"].to_numpy() - expected["temp"].to_numpy()).max() < 1e-4
    assert chief.history_.keys() == alone.history_.keys()
    np.testing.assert_allclose(chief.history_["val_loss"], alone.history_["val_loss"], rtol=1e-5)
    np.testing.assert_allclose(chief.metrics_["mae"]["temp"], alone.metrics_["mae"]["temp"], rtol=1e-4)


def test_the_other_worker_exits_0_and_writes_nothing(runs):
    folder, results = runs
    code, out, err = results["worker1"]
    assert code == 0, err
    assert out.strip().splitlines()[-1] == "worker 1 of 2: trained; the chief writes the bundle"
    assert not (folder / "worker1").exists()


@pytest.mark.parametrize("value, message", [
    (None, "--distributed needs TF_CONFIG in the environment"),
    ("{cluster", "TF_CONFIG is not JSON"),
    ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 3}}', "task.index must be 0 to 0"),
])
def test_a_missing_or_broken_tf_config_is_one_line_before_tensorflow_loads(tmp_path, value, message):
    csv = tmp_path / "fleet.csv"
    synthetic_frame(n=100).to_csv(csv, index=False)
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"} | ({} if value is None else {"TF_CONFIG": value})
    code = ("import sys; from forecaster.cli import main; "
            f"rc = main(['train', '--data', {str(csv)!r}, '--out', {str(tmp_path / 'b')!r}, '--targets', 'temp', "
            "'--distributed']); print(rc, 'tensorflow' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert result.stdout.split() == ["2", "False"], result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr
    assert not (tmp_path / "b").exists()
