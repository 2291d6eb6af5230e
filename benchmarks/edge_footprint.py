"""The TF-free gateway install against the full install: size on disk, start-up time, memory.

    .venv/bin/python benchmarks/edge_footprint.py [--venv /tmp/forecaster-edge-venv]

Creates (or reuses) a venv with deploy/requirements-edge.txt and this package without its
dependencies, exports a 2x64 LSTM bundle (96 x 7 -> 24 x 7) to TFLite with the full install,
then in a fresh process of each install: load the bundle, forecast one window. Reports
site-packages size, wall time to the first forecast, and peak RSS.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import reference_bundle, table, write_results  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import json, sys, time
start = time.perf_counter()
import numpy as np
from forecaster.model import Forecaster
model = Forecaster.load(sys.argv[1], runtime=sys.argv[2])
window = np.random.default_rng(0).normal(size=(1, model.spec.input_steps, len(model.spec.features)))
forecast = model.predict_windows(window)
elapsed = time.perf_counter() - start
hwm = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))  # peak RSS of this image
print(json.dumps({"seconds": elapsed, "rss_mb": int(hwm.split()[1]) / 1024,
                  "tensorflow_loaded": "tensorflow" in sys.modules, "first": float(forecast[0, 0, 0])}))
"""


def site_packages_mb(venv: Path) -> float:
    out = subprocess.run(["du", "-sm", *venv.glob("lib/python*/site-packages")], capture_output=True, text=True, check=True)
    return float(out.stdout.split()[0])


def ensure_edge_venv(venv: Path) -> None:
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", str(ROOT / "deploy" / "requirements-edge.txt")], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", str(ROOT)], check=True)


def probe(python: Path, bundle: Path, runtime: str) -> dict:
    out = subprocess.run([str(python), "-c", PROBE, str(bundle), runtime], capture_output=True, text=True, cwd="/", check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", type=Path, default=Path(tempfile.gettempdir()) / "forecaster-edge-venv")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    ensure_edge_venv(args.venv)
    full_venv = Path(sys.prefix)
    with tempfile.TemporaryDirectory() as tmp:
        bundle = Path(tmp) / "bundle"
        reference_bundle(bundle, export=True)
        runs = {}
        for name, python, runtime in (
            ("full install, keras runtime", full_venv / "bin" / "python", "keras"),
            ("full install, tflite runtime", full_venv / "bin" / "python", "tflite"),
            ("edge install (no TensorFlow), tflite runtime", args.venv / "bin" / "python", "tflite"),
        ):
            results = [probe(python, bundle, runtime) for _ in range(args.repeat)]
            runs[name] = {
                "seconds": min(r["seconds"] for r in results),
                "rss_mb": min(r["rss_mb"] for r in results),
                "tensorflow_loaded": results[0]["tensorflow_loaded"],
                "first": results[0]["first"],
            }
    sizes = {"full": site_packages_mb(full_venv), "edge": site_packages_mb(args.venv)}
    rows = [
        [name, f"{sizes['edge' if name.startswith('edge') else 'full']:.0f}", f"{r['seconds']:.2f}", f"{r['rss_mb']:.0f}",
         r["tensorflow_loaded"]]
        for name, r in runs.items()
    ]
    print(table(["install / runtime", "site-packages MB", "start to first forecast s", "peak RSS MB", "TensorFlow loaded"], rows))
    firsts = [r["first"] for r in runs.values()]
    print(f"first forecast value in each run: {firsts} (same bundle; keras vs tflite differ by < 1e-4)")
    print(f"note: the full venv here ({full_venv}) also holds the dev tools (pytest, ruff, hypothesis)")
    path = write_results("edge_footprint", {"sizes_mb": sizes, "runs": runs})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
