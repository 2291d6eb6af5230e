"""The house seen from outside: `lint-imports` catches a planted circle, and importing the
packages or asking any subcommand for help never loads TensorFlow."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ROOT

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_copy(tmp_path: Path, plant: tuple[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run lint-imports on a copy of the packages, with ``plant = (file, code)`` appended to one file."""
    for package in ("forecaster", "pipelines"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    if plant:
        with (tmp_path / plant[0]).open("a") as handle:
            handle.write(plant[1])
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], capture_output=True, text=True, cwd=tmp_path,
                          env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"}, timeout=120)


def function_level_import(module: str, name: str) -> str:
    """The kind of import that once hid the model <-> ensemble circle."""
    return f"\n\ndef _planted():\n    from {module} import {name}\n\n    return {name}\n"


@pytest.mark.parametrize("plant, broken", [
    # a layer importing upwards: the layers contract and the acyclic contract both catch it
    (("forecaster/nn/build.py", function_level_import("forecaster.model", "Forecaster")),
     "forecaster.nn.build -> forecaster.model"),
    # a circle between two sibling modules of the data package: only the acyclic contract sees it
    (("pipelines/regular.py", function_level_import("pipelines.series", "prepare")),
     "No cycles are allowed in pipelines"),
], ids=["upward-import", "sibling-circle"])
def test_lint_imports_fails_on_a_planted_circle(tmp_path, plant, broken):
    clean = lint_copy(tmp_path / "clean")
    assert clean.returncode == 0, clean.stdout
    planted = lint_copy(tmp_path / "planted", plant)
    assert planted.returncode != 0
    assert "BROKEN" in planted.stdout and broken in planted.stdout, planted.stdout


def test_importing_the_packages_does_not_load_tensorflow():
    code = ("import sys, forecaster, pipelines, forecaster.cli, forecaster.model, forecaster.api, "
            "forecaster.serve.daemon, forecaster.backfill.estimator, forecaster.evaluate.scores; "
            "print('tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


def subcommands() -> list[str]:
    from forecaster.cli.app import cli

    return sorted(cli.commands)


@pytest.mark.parametrize("command", subcommands())
def test_help_has_an_example_and_does_not_load_tensorflow(command):
    code = (f"import sys; from forecaster.cli import main; code = main([{command!r}, '--help']); "
            "print('TF-LOADED' if 'tensorflow' in sys.modules else 'TF-NOT-LOADED'); sys.exit(code)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "Example" in out.stdout, f"`forecaster {command} --help` shows no example"
    assert "TF-NOT-LOADED" in out.stdout and out.stderr == ""
