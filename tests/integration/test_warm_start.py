"""`forecaster train --init-from` and `--refit-on-all`, and `forecaster.train(..., init_from=...)`, with
tiny models: the child starts from the parent's weights, records its lineage, and refuses a mismatch."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import DATA

import forecaster
from forecaster.bundle import content_hash
from forecaster.cli import main
from pipelines import read_csv

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def csvs(tmp_path_factory):
    """The first and the next 1,000 hours of ETTh1, as two files."""
    lines = (DATA / "ETTh1.csv").read_text().splitlines()
    folder = tmp_path_factory.mktemp("warm")
    first, second = folder / "first.csv", folder / "second.csv"
    first.write_text("\n".join(lines[:1001]) + "\n")
    second.write_text("\n".join([lines[0], *lines[1001:2001]]) + "\n")
    return first, second


@pytest.fixture(scope="module")
def parent_bundle(csvs, tmp_path_factory):
    out = tmp_path_factory.mktemp("parent") / "v1"
    code = main(["train", "--data", str(csvs[0]), "--out", str(out), "--targets", "OT", "--features", "HUFL,OT",
                 "--input-steps", "24", "--horizon", "6", "--units", "8", "--segment", "12", "--epochs", "1",
                 "--no-progress"])
    assert code == 0
    return out


def test_a_mismatch_is_refused_in_one_line_before_training(parent_bundle, csvs, tmp_path, capsys):
    code = main(["train", "--data", str(csvs[1]), "--out", str(tmp_path / "x"), "--init-from", str(parent_bundle),
                 "--units", "16", "--horizon", "12", "--cell", "lstm"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0 and not (tmp_path / "x").exists()
    assert err.startswith(f"forecaster: error: cannot warm-start from {parent_bundle}: ")
    assert "horizon 12 here, 6 in the parent" in err and "units 16 here, 8 in the parent" in err
    assert "cell lstm here, gru in the parent" in err
    code = main(["train", "--data", str(csvs[1]), "--out", str(tmp_path / "y"), "--targets", "OT", "--refit-scaler"])
    assert code == 2 and "needs --init-from" in capsys.readouterr().err


def test_the_cli_warm_start_takes_the_parents_design_and_records_its_lineage(parent_bundle, csvs, tmp_path, capsys):
    out = tmp_path / "v2"
    code = main(["train", "--data", str(csvs[1]), "--out", str(out), "--init-from", str(parent_bundle),
                 "--epochs", "2", "--refit-on-all", "--no-progress"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    meta, parent = json.loads((out / "bundle.json").read_text()), json.loads((parent_bundle / "bundle.json").read_text())
    assert meta["spec"] == parent["spec"] and meta["name"] == "v1" and meta["version"] == 2
    assert {k: v for k, v in meta["params"].items() if k != "epochs"} == {k: v for k, v in parent["params"].items()
                                                                          if k != "epochs"}
    assert meta["scaler"] == parent["scaler"]  # kept (no --refit-scaler)
    assert meta["parent"] == {"path": str(parent_bundle.resolve()), "hash": content_hash(parent_bundle), "version": 1}
    refit = meta["refit"]
    assert refit["on"] == "train+validation+test" and 1 <= refit["epochs"][0] <= 2 and len(refit["loss"]) == refit["epochs"][0]
    assert "NOT out of sample" in refit["note"] and "mae" in refit["metrics_in_sample"]
    assert f"model v1 version 2 (hash {content_hash(out)})" in printed
    assert f"warm-started from {parent_bundle.resolve()} (version 1, hash {content_hash(parent_bundle)})" in printed
    assert "its test MAE is NOT out of sample" in printed


def test_the_library_warm_start_begins_at_the_parents_weights(parent_bundle, csvs):
    from forecaster.nn.combine import network_of

    parent = forecaster.load(parent_bundle)
    frame = read_csv(csvs[1])
    child = forecaster.train(frame, None, init_from=parent_bundle, epochs=1, learning_rate=1e-12, refit_scaler=True)
    assert child.version_ == 2 and child.parent_["hash"] == content_hash(parent_bundle)
    assert child.scaler_.to_dict() != parent.scaler_.to_dict()  # refit on the new train split
    for mine, theirs in zip(network_of(child.model_).get_weights(), network_of(parent.model_).get_weights()):
        np.testing.assert_allclose(mine, theirs, atol=1e-6)  # a learning rate of 1e-12 moves nothing
    scratch = forecaster.train(frame, parent.spec, parent.params, epochs=1, learning_rate=1e-12)
    assert not all(np.allclose(a, b, atol=1e-6) for a, b in zip(scratch.model_.get_weights(), parent.model_.get_weights()))


def test_an_ensemble_warm_starts_member_by_member(csvs, tmp_path):
    from forecaster.nn.combine import network_of

    frame = read_csv(csvs[0])
    spec = forecaster.WindowSpec(input_steps=24, horizon=6, features=["OT"], targets=["OT"])
    parent = forecaster.train(frame, spec, units=4, segment=12, epochs=1, ensemble=2).save(tmp_path / "e1")
    child = forecaster.train(read_csv(csvs[1]), None, init_from=parent, epochs=2, refit_on_all=True)
    assert child.params.ensemble == 2 and len(child.history_["member_epochs"]) == 2
    assert len(child.refit_["epochs"]) == 2 and network_of(child.model_).get_layer("member_2") is not None
    assert np.isfinite(child.predict(frame)["OT"]).all()
