"""Skill against the best baseline and the warning that names a baseline beating the model."""

from __future__ import annotations

import numpy as np
import pytest

from forecaster.evaluate.report import sensor_table, skill_section
from forecaster.evaluate.scores import Evaluation
from forecaster.evaluate.skill import best_baseline, loss_warning, skill, skill_line


def result() -> Evaluation:
    """Two targets, four steps: ridge beats the model on OT at steps 3-4, AutoETS on HUFL at step 1."""
    model = np.array([[1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0]])
    scores = {
        "model": {"mae": model},
        "naive": {"mae": np.full((4, 2), 3.0)},
        "linear": {"mae": np.array([[2.0, 2.0], [1.5, 2.0], [0.5, 2.0], [0.8, 2.0]])},
        "autoets": {"mae": np.array([[1.2, 0.9], [1.2, 1.5], [1.2, 1.5], [1.2, 1.5]])},
    }
    return Evaluation(["OT", "HUFL"], 4, 24, 10, scores)


def test_skill_is_against_the_best_baseline_at_each_step():
    names, best = best_baseline(result().scores)
    assert names[:, 0].tolist() == ["autoets", "autoets", "linear", "linear"]
    np.testing.assert_allclose(skill(result().scores)[:, 0], [1 - 1 / 1.2, 1 - 1 / 1.2, -1.0, -0.25])
    np.testing.assert_allclose(best[:, 1], [0.9, 1.5, 1.5, 1.5])


def test_the_warning_names_each_losing_baseline_and_its_steps():
    assert loss_warning(result()) == ("warning: a baseline beats the model: OT: ridge at steps 3-4 of 4 (skill down "
                                      "to -1.00); HUFL: AutoETS at steps 1 of 4 (skill down to -0.11)")


def test_no_warning_when_the_model_is_never_worse():
    r = result()
    r.scores["model"]["mae"] = np.full((4, 2), 0.4)
    assert loss_warning(r) is None
    assert skill_line(r).startswith("skill against the best baseline")


def test_a_model_that_is_the_baseline_to_float32_precision_does_not_lose_to_it():
    r = result()
    r.scores["model"]["mae"] = np.full((4, 2), 0.4)
    r.scores["linear"]["mae"] = r.scores["model"]["mae"] * (1 - 3e-7)  # the combination's weight 1: the ridge itself
    assert loss_warning(r) is None
    r.scores["linear"]["mae"] = r.scores["model"]["mae"] * (1 - 1e-3)  # a real loss, however small
    assert loss_warning(r).startswith("warning: a baseline beats the model: OT: ridge at steps 1-4 of 4")


def test_the_report_and_the_sensor_table_show_skill():
    r = result()
    section = "\n".join(skill_section(r))
    assert "| 3 | -1 | linear (ridge) | 0.3333 | AutoETS |" in section and "warning: a baseline beats" in section
    one = {k: np.ones(2) for k in ("mae", "rmse", "mase")}
    r.by_sensor = {"out": {"windows": 3, "model": one, "linear": {"mae": np.array([0.5, 2.0])}}}
    row = sensor_table(r).splitlines()[2]
    assert row.endswith("| -1 |") and "| out | OT | 3 |" in row


def test_autoets_forecasts_a_clean_season_along_the_series():
    pytest.importorskip("statsforecast")
    from pipelines.ets import autoets_along

    t = np.arange(1200)
    values = (10 + 3 * np.sin(2 * np.pi * t / 24) + np.random.default_rng(0).normal(0, 0.05, 1200))[:, None]
    origins = np.array([900, 913, 1100])
    got = autoets_along(values, np.zeros(1200, int), np.arange(800), origins, 24, 24, context=192)
    truth = np.stack([values[o + 1:o + 25] for o in origins])
    assert np.abs(got - truth).mean() < 0.1  # the phase is kept whatever the origin
