"""Import rules: `pipelines` is data only; heavy imports stay at the edges."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

FORBIDDEN_IN_PIPELINES = {"forecaster", "keras", "tensorflow"}
KERAS_MODULES = {"networks.py", "bundle.py", "training.py", "inference.py", "tf_env.py", "export.py", "edge.py",
                 "backfill_net.py", "segrnn.py"}


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_pipelines_never_import_forecaster_or_tensorflow():
    for path in (ROOT / "pipelines").rglob("*.py"):
        assert not imported_roots(path) & FORBIDDEN_IN_PIPELINES, path


def test_paho_only_in_the_mqtt_adapter():
    for path in list((ROOT / "pipelines").rglob("*.py")) + list((ROOT / "forecaster").rglob("*.py")):
        if "paho" in imported_roots(path):
            assert path.name in {"mqtt_source.py", "mqtt_client.py"}, path


def test_keras_only_in_its_modules():
    for path in (ROOT / "forecaster").rglob("*.py"):
        if imported_roots(path) & {"keras", "tensorflow"}:
            assert path.name in KERAS_MODULES, path


def test_importing_the_packages_does_not_load_tensorflow():
    code = "import sys, forecaster, pipelines, forecaster.cli, forecaster.model; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.stdout.strip() == "False", out.stderr
