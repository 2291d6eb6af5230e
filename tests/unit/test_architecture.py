"""The shape of the house: the import contracts of pyproject.toml hold, and no file or function
(library or benchmark) outgrows what one reader takes in (one concern a file, about 400 lines at most)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from helpers import ROOT
from importlinter.application import use_cases
from importlinter.configuration import configure

PACKAGES = ("forecaster", "pipelines")
BENCHMARKS = "benchmarks"  # one command a file; held to the same sizes as the library
MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 60
# Keras functional builders read top to bottom as one network; splitting them hides the graph.
NETWORK_BUILDERS = {"build_model", "build_segment_model", "build_backfill_model"}


def library_files() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


def sized_files() -> list[Path]:
    """Every file the size rules hold for: the library's and the benchmarks'."""
    return library_files() + sorted((ROOT / BENCHMARKS).glob("*.py"))


def test_import_contracts_hold():
    """Layers, independent wings, Keras only in `nn`, paho only in the MQTT client, no circles
    (what ``lint-imports`` checks, run in-process)."""
    configure()
    use_cases._register_built_in_contract_types()  # what `lint-imports` does first; its printer is left out
    options = use_cases.read_user_options(str(ROOT / "pyproject.toml"))
    report = use_cases.create_report(options, cache_dir=None)
    broken = [contract.name for contract, check in report.get_contracts_and_checks() if not check.kept]
    assert len(report.contracts) >= 5 and not broken and not report.contains_failures, f"broken import contracts: {broken} (run lint-imports)"


@pytest.mark.parametrize("path", sized_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_files_and_functions_stay_small(path):
    text = path.read_text()
    assert text.count("\n") <= MAX_FILE_LINES, f"{path}: {text.count(chr(10))} lines; split it by concern"
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name not in NETWORK_BUILDERS:
            length = node.end_lineno - node.lineno + 1
            assert length <= MAX_FUNCTION_LINES, f"{path}:{node.lineno} {node.name} has {length} lines"


def test_every_wing_says_what_it_owns():
    for init in (ROOT / "forecaster").glob("*/__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc and len(doc.split()) >= 8, f"{init}: say in a few lines what this wing owns"
