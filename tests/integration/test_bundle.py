"""The model bundle: contents, checksums, schema, and the backfill guard."""

from __future__ import annotations

import json
import shutil

import pytest

import forecaster
from forecaster.bundle import META_FILE, SCHEMA_VERSION


def test_bundle_contents(tiny_bundle):
    meta = json.loads((tiny_bundle / META_FILE).read_text())
    assert meta["schema_version"] == SCHEMA_VERSION and meta["kind"] == "forecast"
    assert meta["spec"]["input_steps"] == 24 and meta["freq"] == "1h"
    assert set(meta["files"]) == {"model.keras"}
    assert {"keras", "tensorflow", "pandas"} <= set(meta["versions"])
    assert meta["history"]["loss"] and "mae" in meta["metrics"]
    assert sorted(p.name for p in tiny_bundle.iterdir()) == ["MANIFEST.sha256", "bundle.json", "model.keras"]


@pytest.fixture
def copy(tiny_bundle, tmp_path):
    return shutil.copytree(tiny_bundle, tmp_path / "copy")


def test_changed_model_file_is_refused(copy):
    with (copy / "model.keras").open("ab") as handle:
        handle.write(b"x")
    with pytest.raises(forecaster.ForecasterError, match="checksum mismatch for model.keras"):
        forecaster.load(copy)


def test_other_schema_version_is_refused(copy):
    meta = json.loads((copy / META_FILE).read_text())
    meta["schema_version"] = 99
    (copy / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(forecaster.ForecasterError, match="schema version 99"):
        forecaster.load(copy)


def test_backfill_bundle_cannot_forecast(copy):
    from forecaster.bundle import write_meta

    meta = json.loads((copy / META_FILE).read_text())
    meta["kind"] = "backfill"
    write_meta(copy, meta)
    with pytest.raises(forecaster.ForecasterError, match="cannot forecast"):
        forecaster.load(copy)


def test_not_a_bundle(tmp_path):
    with pytest.raises(forecaster.ForecasterError, match="not a model bundle"):
        forecaster.load(tmp_path)


@pytest.fixture
def backfill_kind(copy):
    from forecaster.bundle import write_meta

    meta = json.loads((copy / META_FILE).read_text())
    meta["kind"] = "backfill"
    write_meta(copy, meta)
    return copy


@pytest.mark.parametrize("command", [["predict", "--out", "f.csv"], ["evaluate"], ["export"]])
def test_every_forecast_command_refuses_a_backfill_bundle_with_the_one_message(command, backfill_kind, capsys):
    """The kind check lives in `read_meta(directory, expect=...)` only; each command says the same line."""
    from forecaster.bundle import WRONG_KIND
    from forecaster.cli import main

    args = [command[0], "--model", str(backfill_kind), *command[1:]]
    if command[0] != "export":
        args += ["--data", "never-read.csv"]  # the bundle is checked first
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err == f"forecaster: error: {backfill_kind}: {WRONG_KIND['forecast']}\n"


def test_backfill_command_refuses_a_forecast_bundle(tiny_bundle, capsys):
    from forecaster.bundle import WRONG_KIND
    from forecaster.cli import main

    assert main(["backfill", "--model", str(tiny_bundle), "--data", "never-read.csv", "--out", "x.csv"]) == 2
    assert capsys.readouterr().err == f"forecaster: error: {tiny_bundle}: {WRONG_KIND['backfill']}\n"
    with pytest.raises(forecaster.ForecasterError, match="a forecast bundle cannot backfill"):
        forecaster.Backfiller.load(tiny_bundle)


def test_read_meta_checks_the_expected_kind(tiny_bundle):
    from forecaster.bundle import read_meta

    assert read_meta(tiny_bundle, expect="forecast")["kind"] == "forecast"
    assert read_meta(tiny_bundle)["kind"] == "forecast"
    with pytest.raises(forecaster.ForecasterError, match="`expect` must be one of"):
        read_meta(tiny_bundle, expect="forecasts")
