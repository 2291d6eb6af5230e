"""Variants of one trained, combined forecaster for benchmarks/skill.py (no retraining).

- ``alone``: the same trained network without its combination (intervals calibrated again on
  the validation windows), so combined and alone are compared on the very same networks.
- ``smooth 0`` / ``smooth 0.125``: each step's weight chosen on that step alone, or on the steps
  within 1/8 of the horizon around it (shipped: one weight for the whole horizon, ``smooth 1``).
- ``fixed 0.5``: the average of the network and each step's baseline, no weight fit at all.
- ``ridge with calendar`` / ``ridge on features``: with calendar inputs, the ridge always / never reads the
  calendar columns (shipped: per target, the one with the lower validation MAE).
- ``half``: the combination's weights chosen on the first half of the validation windows and
  the intervals calibrated on the second half only (the shipped design uses all validation
  windows for both: does that cost interval coverage on the test windows?).
"""

from __future__ import annotations

import copy
from dataclasses import replace


def fleet_of(model, frame):
    """The scaled fleet the model was trained on (rebuilt: the same data gives the same scaler and starts)."""
    return copy.copy(model)._prepare(frame)


def _with(model, network, intervals_fleet):
    from forecaster.heldout import calibrate

    other = copy.copy(model)
    other.model_, other._predictor = network, None
    other.intervals_ = calibrate(other, intervals_fleet)
    return other


def alone(model, fleet):
    """The combined ``model``'s network alone, its intervals calibrated on all validation windows."""
    from forecaster.nn.combine import network_of

    return _with(model, network_of(model.model_), fleet)


def half(model, fleet):
    """Weights on the first half of the validation windows, intervals on the second half."""
    from forecaster.combine import combined
    from pipelines.split import VALIDATION

    starts = fleet.of(VALIDATION)
    cut = len(starts) // 2
    first = replace(fleet, starts={**fleet.starts, VALIDATION: starts[:cut]})
    second = replace(fleet, starts={**fleet.starts, VALIDATION: starts[cut:]})
    return _with(model, combined(model, first), second)


def smoothing(model, fleet, smooth):
    """The weights chosen with another smoothing over the horizon (0: per step, 1: one per target)."""
    from forecaster.combine import combined

    return _with(model, combined(model, fleet, smooth=smooth), fleet)


def calendar_ridge(model, fleet, reads: bool):
    """The combination whose ridge always (``reads``) or never reads the calendar columns the network reads."""
    from forecaster.combine import combined

    return _with(model, combined(model, fleet, calendar_ridge=reads), fleet)


def fixed_half(model, fleet):
    """Half the network, half its step's baseline (chosen on train + validation), no weight fit on validation."""
    import numpy as np

    from forecaster.combine import _period, baseline_errors, baselines
    from forecaster.nn.combine import network_of, set_weights, wrap

    spec = model.network_spec  # the columns the network reads, calendar inputs included (as `combined`)
    base = baselines(spec, fleet, _period(spec, fleet, model.freq_))
    pick = np.argmin(baseline_errors(spec, fleet, base), axis=0)
    out = np.arange(len(pick))
    network = wrap(network_of(model.model_), horizon=spec.horizon, targets=len(spec.targets))
    set_weights(network, np.full((spec.horizon, len(spec.targets)), 0.5), 0.5 * base.kernels[pick, :, out].T,
                0.5 * base.biases[pick, out])
    return _with(model, network, fleet)


def variants(model, frame) -> dict[str, object]:
    """``{suffix: forecaster}``: the shipped combination ("") and the variants above."""
    from forecaster.combine import SMOOTH

    fleet = fleet_of(model, frame)
    out = {"": model, " (net alone)": alone(model, fleet), " (half-val fit)": half(model, fleet),
           " (fixed 0.5)": fixed_half(model, fleet)}
    for smooth in (0.0, 0.125, 1.0):
        if smooth != SMOOTH:
            out[f" (smooth {smooth:g})"] = smoothing(model, fleet, smooth)
    if model.params.calendar_parts:
        out[" (ridge with calendar)"] = calendar_ridge(model, fleet, True)
        out[" (ridge on features)"] = calendar_ridge(model, fleet, False)
    return out
