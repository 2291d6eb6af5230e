"""SegRNN-style options: shapes, save/load under safe_mode for each option, LSTM and GRU."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import ETT_COLUMNS

import forecaster
from forecaster.params import ModelParams
from pipelines import WindowSpec
from pipelines.errors import ForecasterError

OPTIONS = {
    "channel_independent": dict(channel_independent=True),
    "segments_dense": dict(segment=6),
    "segments_parallel": dict(segment=6, decoder="parallel"),
    "segrnn": dict(channel_independent=True, segment=6, decoder="parallel", loss="mae"),
    "mean_norm": dict(norm="mean", segment=5, channel_independent=True),
    "no_norm_parallel": dict(norm="none", segment=4, decoder="parallel"),
    "no_norm_channel_independent": dict(norm="none", channel_independent=True, segment=4),
}


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("option", sorted(OPTIONS))
def test_option_round_trips_under_safe_mode(cell, option, ett_small, tmp_path):
    from benchmarks.parts import from_parts
    from forecaster.nn.build import build_network
    from pipelines.scaling import Scaler

    spec = WindowSpec(input_steps=24, horizon=10, features=ETT_COLUMNS[-3:], targets=["OT", "LULL"])
    params = ModelParams(cell=cell, units=4, seed=1, **OPTIONS[option])
    assert params.segment_model
    values = ett_small[list(spec.columns)].to_numpy()
    model = from_parts(spec=spec, params=params, network=build_network(spec, params),
                       scaler=Scaler(columns=spec.columns).fit(values), freq="1h")
    loaded = forecaster.load(model.save(tmp_path / "b"))  # loads with safe_mode=True
    assert loaded.params == model.params
    windows = np.stack([values[-24:], values[:24]])
    out = model.predict_windows(windows)
    assert out.shape == (2, 10, 2) and np.isfinite(out).all()
    np.testing.assert_allclose(loaded.predict_windows(windows), out, rtol=0, atol=1e-6)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_segrnn_trains_through_the_library(cell, ett_small, tmp_path):
    spec = WindowSpec(input_steps=24, horizon=6, features=ETT_COLUMNS, targets=ETT_COLUMNS)
    model = forecaster.train(ett_small.iloc[:400], spec, cell=cell, units=4, epochs=1, batch_size=64,
                             channel_independent=True, segment=6, decoder="parallel", loss="mae", lr_decay=0.9)
    assert model.history_["loss"] and np.isfinite(model.metrics_["mae"]["OT"])
    assert forecaster.load(model.save(tmp_path / "b")).predict(ett_small).shape == (6, 8)


def test_stacked_layers_and_crops():
    from forecaster.nn.segment import build_segment_model

    m = build_segment_model(input_steps=25, n_features=3, horizon=7, target_index=[1], cell="lstm", layers=2,
                            units=4, segment=6, decoder="parallel", dropout=0.1)
    assert m.output_shape == (None, 7, 1)
    assert m(np.zeros((3, 25, 3), dtype="float32")).shape == (3, 7, 1)


def test_last_value_normalization_is_level_invariant():
    from forecaster.nn.segment import build_segment_model

    m = build_segment_model(input_steps=12, n_features=2, horizon=4, target_index=[0, 1], units=4, segment=4,
                            decoder="parallel")
    x = np.random.default_rng(0).normal(size=(2, 12, 2)).astype("float32")
    np.testing.assert_allclose(np.asarray(m(x + 5.0)), np.asarray(m(x)) + 5.0, atol=1e-4)


def test_invalid_options_are_errors():
    with pytest.raises(ForecasterError, match="decoder='parallel'"):
        ModelParams(decoder="parallel", segment=0)
    with pytest.raises(ForecasterError, match="norm"):
        ModelParams(norm="median")
    with pytest.raises(ForecasterError, match="lr_decay"):
        ModelParams(lr_decay=1.5)
    with pytest.raises(ForecasterError, match="conv"):
        ModelParams(conv=True, segment=4)
    with pytest.raises(ForecasterError, match="segment=0"):
        ModelParams(conv=True, segment=24)  # conv belongs to the row-by-row network
    assert ModelParams(conv=True, segment=0).decoder == "dense"
    # `forecaster train --conv` (DESIGN's CLI contract) still works: conv alone means row by row
    plain_conv = ModelParams(conv=True)
    assert (plain_conv.segment, plain_conv.decoder, plain_conv.segment_model) == (0, "dense", False)


def test_defaults_are_the_measured_segment_gru_and_auto_decoder_follows_segment():
    """The defaults are the design benchmarks/defaults.py measured best (docs/model-options.md)."""
    params = ModelParams()
    assert ModelParams.from_dict(params.to_dict()) == params  # bundles record the resolved segment
    assert (params.cell, params.units, params.segment, params.decoder, params.loss, params.lr_decay) == (
        "gru", 128, 24, "parallel", "mae", 0.9)
    assert params.segment_model
    assert not ModelParams(segment=0).segment_model  # row by row: the plain builder
    assert ModelParams(segment=0).decoder == "dense"


def test_segment_longer_than_the_window_is_one_segment():
    from forecaster.nn.build import build_network

    spec = WindowSpec(input_steps=8, horizon=5, features=["OT"], targets=["OT"])
    network = build_network(spec, ModelParams(units=4, segment=24, combine="none"))
    assert network.output_shape == (None, 5, 1)
    assert network.get_layer("segments").output.shape[1:] == (1, 8)  # one segment of the 8 rows
    x = np.random.default_rng(0).normal(size=(3, 8, 1)).astype("float32")
    same = build_network(spec, ModelParams(units=4, segment=8, combine="none"))
    same.set_weights(network.get_weights())
    np.testing.assert_allclose(network.predict(x, verbose=0), same.predict(x, verbose=0), rtol=1e-6)


@pytest.mark.parametrize("old_norm", ["last", "mean"])
def test_bundles_saved_with_residual_false_load_as_norm_none(old_norm):
    """Params of bundles written before `residual` and `norm` became one option (``model`` then
    named the cell) are read silently: residual=False is norm="none" (such networks were built
    without instance normalization, whatever `norm` said), and rebuild the same network."""
    from forecaster.nn.build import build_network

    new = {k: v for k, v in ModelParams(segment=4).to_dict().items() if k not in ("cell", "norm")}
    saved = {**new, "model": "lstm", "norm": old_norm, "residual": False}
    params = ModelParams.from_dict(saved)
    assert (params.cell, params.norm, params.segment_model) == ("lstm", "none", True)
    assert ModelParams.from_dict(params.to_dict()) == params and "residual" not in params.to_dict()
    spec = WindowSpec(input_steps=8, horizon=4, features=["OT"], targets=["OT"])
    assert build_network(spec, params).count_params() == build_network(spec, ModelParams(cell="lstm", segment=4,
                                                                                        norm="none")).count_params()
    kept = ModelParams.from_dict({**saved, "residual": True})
    assert (kept.cell, kept.norm) == ("lstm", old_norm)


def test_deprecated_names_warn_and_mean_the_new_ones():
    with pytest.warns(FutureWarning, match="`model` is deprecated.*use `cell`"):
        assert ModelParams.from_options(None, {"model": "lstm"}).cell == "lstm"
    with pytest.warns(FutureWarning, match="`residual` is deprecated"):
        assert ModelParams.from_options(None, {"residual": False}).norm == "none"
    with pytest.raises(ForecasterError, match="give `cell` only"):
        ModelParams.from_options(None, {"model": "lstm", "cell": "gru"})
    with pytest.raises(TypeError):  # the dataclass itself knows only the new names
        ModelParams(model="lstm")


def test_channel_independence_needs_targets_among_features():
    from forecaster.nn.build import build_network

    spec = WindowSpec(input_steps=8, horizon=2, features=["HUFL"], targets=["OT"])
    with pytest.raises(ForecasterError, match=r"channel independence .*\['OT'\] are not"):
        build_network(spec, ModelParams(channel_independent=True))
    with pytest.raises(ForecasterError, match="channel independence"):
        build_network(spec, ModelParams(channel_independent=True, norm="none"))


@pytest.mark.parametrize(("features", "targets", "independent"), [
    (["HUFL", "OT"], ["OT", "HUFL"], True),   # every input a target: one network per channel
    (["HUFL", "OT"], ["OT"], False),          # an input that is not a target: only a mixing network uses it
    (["OT"], ["OT"], False),                  # one channel: nothing to make independent
])
def test_channel_independence_by_default_exactly_when_every_input_is_a_target(features, targets, independent):
    from forecaster.nn.build import build_network
    from forecaster.nn.combine import network_of

    spec = WindowSpec(input_steps=8, horizon=2, features=features, targets=targets)
    names = [layer.name for layer in network_of(build_network(spec, ModelParams(units=4, segment=4))).layers]
    assert ("channels_to_batch" in names) is independent
    explicit = [layer.name for layer in network_of(build_network(spec, ModelParams(
        units=4, segment=4, channel_independent=False))).layers]
    assert "channels_to_batch" not in explicit


def test_a_bundle_without_the_option_was_built_mixing_channels():
    params = ModelParams().to_dict()
    del params["channel_independent"]
    assert ModelParams.from_dict(params).channel_independent is False
    assert ModelParams.from_dict(ModelParams().to_dict()).channel_independent is None


def test_bundle_loads_in_a_fresh_process(ett_small, tmp_path):
    """The custom layers must be registered by `forecaster.load` itself, not by an earlier import."""
    import subprocess
    import sys

    from helpers import ROOT

    from benchmarks.parts import from_parts
    from forecaster.nn.build import build_network
    from pipelines.scaling import Scaler

    spec = WindowSpec(input_steps=12, horizon=4, features=ETT_COLUMNS, targets=ETT_COLUMNS)
    params = ModelParams(cell="gru", units=4, channel_independent=True, segment=4, decoder="parallel")
    values = ett_small[list(spec.columns)].to_numpy()
    from_parts(spec=spec, params=params, network=build_network(spec, params),
               scaler=Scaler(columns=spec.columns).fit(values), freq="1h").save(tmp_path / "b")
    code = f"import forecaster; print(forecaster.load({str(tmp_path / 'b')!r}).spec.horizon)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.stdout.strip() == "4", out.stderr
