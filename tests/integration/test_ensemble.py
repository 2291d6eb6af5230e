"""Seed ensembles: the forecast is the members' mean, each member is the single network of its
seed, and the ensemble saves, loads and exports like any network."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import ETT_COLUMNS

import forecaster
from forecaster.params import ModelParams
from pipelines import WindowSpec
from pipelines.errors import ForecasterError

SPEC = WindowSpec(input_steps=24, horizon=6, features=ETT_COLUMNS[-3:], targets=ETT_COLUMNS[-3:])
SEGRNN = dict(cell="gru", units=4, channel_independent=True, segment=6, decoder="parallel", loss="mae")


def test_ensemble_size_is_validated_and_old_params_default_to_one():
    with pytest.raises(ForecasterError, match="`ensemble` must be a positive integer"):
        ModelParams(ensemble=0)
    old = ModelParams().to_dict()
    assert "ensemble" not in old  # single networks are written as before the option existed
    assert ModelParams.from_dict(old).ensemble == 1
    assert ModelParams.from_dict(ModelParams(ensemble=2).to_dict()).ensemble == 2


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_forecast_is_the_mean_of_the_members(cell):
    from forecaster.nn.build import build_network
    from forecaster.nn.combine import network_of

    params = ModelParams(cell=cell, units=4, ensemble=3, seed=5)
    network = network_of(build_network(SPEC, params))  # without the baseline combination
    members = [network.get_layer(f"member_{k}") for k in (1, 2, 3)]
    x = np.random.default_rng(0).normal(size=(4, 24, 3)).astype("float32")
    outs = [np.asarray(m(x)) for m in members]
    assert not np.allclose(outs[0], outs[1])  # independently initialized members
    np.testing.assert_allclose(np.asarray(network(x)), np.mean(outs, axis=0), rtol=0, atol=1e-6)


def test_each_member_is_the_single_network_of_its_seed(ett_small, tmp_path):
    from forecaster.nn.combine import network_of

    frame = ett_small.iloc[:400]
    kw = dict(epochs=2, batch_size=64, **SEGRNN)
    ensemble = forecaster.train(frame, SPEC, seed=7, ensemble=2, **kw)
    second = forecaster.train(frame, SPEC, seed=8, **kw)
    assert ensemble.history_["member_epochs"] == [2.0, 2.0] and len(ensemble.history_["loss"]) == 4
    member = network_of(ensemble.model_).get_layer("member_2")
    for got, want in zip(member.get_weights(), network_of(second.model_).get_weights(), strict=True):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
    loaded = forecaster.load(ensemble.save(tmp_path / "b"))
    assert loaded.params.ensemble == 2
    np.testing.assert_allclose(loaded.predict(ett_small).to_numpy(dtype=float)[:, 1:],
                               ensemble.predict(ett_small).to_numpy(dtype=float)[:, 1:], rtol=0, atol=1e-5)


def test_ensemble_exports_to_tflite(ett_small, tmp_path):
    from benchmarks.parts import from_parts
    from forecaster.export import export_tflite
    from forecaster.nn.build import build_network
    from pipelines.scaling import Scaler

    params = ModelParams(ensemble=2, **SEGRNN)
    values = ett_small[list(SPEC.columns)].to_numpy()
    model = from_parts(spec=SPEC, params=params, network=build_network(SPEC, params),
                       scaler=Scaler(columns=SPEC.columns).fit(values), freq="1h")
    bundle = model.save(tmp_path / "b")
    _, diff = export_tflite(bundle)
    assert diff <= 1e-4
    edge = forecaster.load(bundle, runtime="tflite")
    windows = np.stack([values[-24:], values[:24]])
    np.testing.assert_allclose(edge.predict_windows(windows), model.predict_windows(windows), rtol=0, atol=1e-4)


def test_blend_of_two_designs_is_the_mean_of_all_members_and_export_refuses_it_in_one_line():
    """`blend` (what `benchmarks/ett.py --blend` uses) averages every member of networks of
    different designs; such a network is not what its settings describe, so the TFLite export,
    which rebuilds the network from those settings, says so instead of failing deep in Keras."""
    from benchmarks.parts import blend, from_parts, members_of
    from forecaster.export import convert_tflite
    from forecaster.nn.build import build_network

    two = build_network(SPEC, ModelParams(ensemble=2, combine="none", **SEGRNN))
    other = build_network(SPEC, ModelParams(**{**SEGRNN, "segment": 12, "combine": "none"}))
    network = blend([two, other])
    assert [m.name for m in members_of(network)] == ["member_1", "member_2", "member_3"]
    x = np.random.default_rng(0).normal(size=(4, 24, 3)).astype("float32")
    outs = [np.asarray(m(x)) for m in members_of(network)]
    np.testing.assert_allclose(np.asarray(network(x)), np.mean(outs, axis=0), rtol=0, atol=1e-6)
    model = from_parts(spec=SPEC, params=ModelParams(ensemble=2, **SEGRNN), network=network, scaler=None,
                       freq="1h", name="blended")
    with pytest.raises(ForecasterError, match="^blended: the saved network is not the one its settings describe"):
        convert_tflite(model)
