"""A tampered or corrupt bundle is refused in one line, before anything is forecast: the
manifest covers bundle.json, no listed path leaves the bundle, the scaler is sane, and the
spec and the network agree."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from helpers import DATA

import forecaster
from forecaster.bundle import MANIFEST_FILE, META_FILE, write_meta
from forecaster.cli import main


@pytest.fixture
def bundle(tiny_bundle, tmp_path) -> Path:
    return Path(shutil.copytree(tiny_bundle, tmp_path / "b"))


def edit_meta(bundle: Path, change, *, rewrite_manifest: bool) -> None:
    """Change bundle.json; with ``rewrite_manifest`` the manifest is made to match (a crafted bundle)."""
    meta = json.loads((bundle / META_FILE).read_text())
    change(meta)
    (bundle / META_FILE).write_text(json.dumps(meta))
    if rewrite_manifest:
        lines = [f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}\n"
                 for p in sorted(bundle.iterdir()) if p.name != MANIFEST_FILE]
        (bundle / MANIFEST_FILE).write_text("".join(lines))


def test_the_manifest_lists_every_file_and_bundle_json(bundle):
    names = {line.split("  ")[1] for line in (bundle / MANIFEST_FILE).read_text().splitlines()}
    assert names == {p.name for p in bundle.iterdir()} - {MANIFEST_FILE}
    assert META_FILE in names


def test_an_edited_bundle_json_is_refused(bundle, capsys):
    edit_meta(bundle, lambda m: m["spec"].update(horizon=12), rewrite_manifest=False)
    with pytest.raises(forecaster.ForecasterError, match="checksum mismatch for bundle.json"):
        forecaster.load(bundle)
    code = main(["predict", "--model", str(bundle), "--data", str(DATA / "ETTh1.csv"), "--out", str(bundle / "f.csv")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "checksum mismatch for bundle.json" in err[0]


@pytest.mark.parametrize("name", ["/etc/passwd", "../outside.bin", "sub/model.keras"])
def test_a_listed_path_outside_the_bundle_is_refused(bundle, name):
    edit_meta(bundle, lambda m: m["files"].update({name: "0" * 64}), rewrite_manifest=True)
    with pytest.raises(forecaster.ForecasterError, match="not a file of the bundle folder"):
        forecaster.load(bundle)


@pytest.mark.parametrize("scale", [0.0, -1.0, float("nan")])
def test_a_scaler_without_a_positive_finite_scale_is_refused(bundle, scale):
    meta = json.loads((bundle / META_FILE).read_text())
    meta["scaler"]["scale"][0] = scale
    for key in ("schema_version", "versions", "files"):
        meta.pop(key)
    if scale == scale:  # JSON has no NaN: write it as the text a hand edit would leave
        write_meta(bundle, meta)
    else:
        meta["scaler"]["scale"][0] = 1.0
        write_meta(bundle, meta)
        edit_meta(bundle, lambda m: m["scaler"]["scale"].__setitem__(0, None), rewrite_manifest=True)
    with pytest.raises(forecaster.ForecasterError, match="no valid scaler"):
        forecaster.load(bundle)


def test_a_spec_that_disagrees_with_the_network_is_one_line(bundle, capsys):
    edit_meta(bundle, lambda m: m["spec"].update(horizon=12), rewrite_manifest=True)
    with pytest.raises(forecaster.ForecasterError, match="network output .* does not match the spec's horizon"):
        forecaster.load(bundle)
