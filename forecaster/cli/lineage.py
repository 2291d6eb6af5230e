"""`forecaster train --init-from`: the options a warm start takes from its parent bundle, and the
lines `train` prints about a model's identity, parent and refit (no TensorFlow)."""

from __future__ import annotations

from typing import Any

import click
from click.core import ParameterSource

from forecaster.warm_start import DESIGN_OPTIONS, Parent


def parent_defaults(o: dict[str, Any], parent: Parent) -> dict[str, Any]:
    """``o`` (the `train` options) with the name and every spec, network and cadence option left at
    its default taken from ``parent``; the ones given (flag, variable or config file) stay, for
    `Parent.check` to compare."""
    context = click.get_current_context()
    given = {name for name in o if context.get_parameter_source(name) is not ParameterSource.DEFAULT}
    spec, params, o = parent.meta["spec"], parent.params, dict(o)
    inherited = {"name": parent.meta.get("name"), "input_steps": spec["input_steps"], "horizon": spec["horizon"], "freq": parent.meta["freq"],
                 "targets": ",".join(spec["targets"]), "features": ",".join(spec["features"]),
                 **{name: getattr(params, name) for name in DESIGN_OPTIONS}}
    for name, value in inherited.items():
        if name not in given:
            o[name] = value
    return o


def identity_lines(model: Any) -> list[str]:
    """What `train` says of the saved model: name, version, hash, parent, and the refit."""
    lines = [f"model {model.name} version {model.version_} (hash {model.hash_})"]
    if model.parent_ is not None:
        p = model.parent_
        lines.append(f"warm-started from {p['path']} (version {p['version']}, hash {p['hash']})")
    refit = getattr(model, "refit_", None)
    if refit is not None:
        lines.append(f"refit on all {refit['windows']} windows (train+validation+test) for "
                     f"{'+'.join(map(str, refit['epochs']))} epoch(s), the best on validation: the test MAE above "
                     "is out of sample for the network chosen on validation; the deployed network has seen the test "
                     "windows, its test MAE is NOT out of sample: "
                     + ", ".join(f"{t} {v:.4g}" for t, v in refit["metrics_in_sample"].get("mae", {}).items()))
        lines.append("its prediction intervals are those calibrated on the chosen network's validation errors "
                     "(about the nominal coverage, without a guarantee)")
    return lines
