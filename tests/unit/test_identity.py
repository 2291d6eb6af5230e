"""A bundle's identity: its content hash (of the manifest) is stable for the same files and changes
with any byte; the mismatch messages of a warm start (no training, no TensorFlow)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from forecaster import bundle
from forecaster.bundle import MANIFEST_FILE, META_FILE, MODEL_FILE, content_hash, read_meta, write_meta
from forecaster.params import ModelParams
from forecaster.warm_start import Parent
from pipelines.errors import ForecasterError
from pipelines.windows import WindowSpec

SPEC = WindowSpec(input_steps=24, horizon=6, features=["HUFL", "OT"], targets=["OT"])
META = {"kind": "forecast", "name": "m", "spec": SPEC.to_dict(), "freq": "1h", "max_gap": 3, "version": 1,
        "params": ModelParams(units=8).to_dict()}


@pytest.fixture(autouse=True)
def no_tensorflow(monkeypatch):
    """`write_meta` records library versions through TensorFlow; these tests do without."""
    monkeypatch.setattr(bundle, "_library_versions", lambda: {"python": "3"})


def fake_bundle(directory: Path, weights: bytes = b"weights", meta: dict | None = None) -> Path:
    directory.mkdir(parents=True)
    (directory / MODEL_FILE).write_bytes(weights)
    write_meta(directory, meta or META)
    return directory


def test_the_same_files_give_the_same_hash_anywhere(tmp_path):
    a = fake_bundle(tmp_path / "a")
    b = tmp_path / "b"
    shutil.copytree(a, b)
    assert content_hash(a) == content_hash(b) == content_hash(a)
    assert len(content_hash(a)) == 16 and int(content_hash(a), 16) >= 0
    c = fake_bundle(tmp_path / "c")  # written again from the same content
    assert content_hash(c) == content_hash(a)


def test_any_changed_byte_changes_the_hash_or_is_refused(tmp_path):
    a = fake_bundle(tmp_path / "a")
    before = content_hash(a)
    assert content_hash(fake_bundle(tmp_path / "w", weights=b"weightz")) != before
    assert content_hash(fake_bundle(tmp_path / "v", meta={**META, "version": 2})) != before
    (a / MODEL_FILE).write_bytes(b"weightz")  # tampered, manifest left as it was: same hash, but refused
    assert content_hash(a) == before
    with pytest.raises(ForecasterError, match="checksum mismatch for model.keras"):
        read_meta(a)
    write_meta(a, META)  # the manifest rewritten over the new file: a new identity
    assert content_hash(a) != before and read_meta(a)["version"] == 1


def test_a_bundle_without_manifest_is_named_by_its_bundle_json(tmp_path):
    a = fake_bundle(tmp_path / "a")
    (a / MANIFEST_FILE).unlink()
    first = content_hash(a)
    meta = json.loads((a / META_FILE).read_text())
    (a / META_FILE).write_text(json.dumps({**meta, "name": "other"}))
    assert content_hash(a) != first
    with pytest.raises(ForecasterError, match="not a model bundle"):
        content_hash(tmp_path / "missing")


def parent() -> Parent:
    return Parent(Path("bundles/v1"), dict(META), "0123456789abcdef")


def test_a_warm_start_of_the_same_design_passes_and_training_options_may_differ():
    params = ModelParams(units=8, epochs=3, learning_rate=1e-4, patience=2, seed=7, loss="mse", batch_size=16)
    parent().check(SPEC, params, "1h")
    assert parent().record()["hash"] == "0123456789abcdef" and parent().record()["version"] == 1


def test_the_mismatch_message_names_every_difference_in_one_line():
    spec = WindowSpec(input_steps=48, horizon=6, features=["OT"], targets=["OT"])
    with pytest.raises(ForecasterError) as info:
        parent().check(spec, ModelParams(units=16, cell="lstm"), "15min")
    message = str(info.value)
    assert "\n" not in message and message.startswith("cannot warm-start from bundles/v1: ")
    for part in ("input_steps 48 here, 24 in the parent", "features OT here, HUFL,OT in the parent",
                 "cell lstm here, gru in the parent", "units 16 here, 8 in the parent",
                 "cadence 15min here, 1h in the parent"):
        assert part in message
    assert "horizon" not in message and "epochs" not in message


@pytest.mark.parametrize(("option", "value"), [("ensemble", 2), ("segment", 12), ("dropout", 0.1), ("norm", "none")])
def test_each_design_option_is_compared(option, value):
    with pytest.raises(ForecasterError, match=f"{option} {value} here"):
        parent().check(SPEC, ModelParams.from_options(ModelParams(units=8), {option: value}))
