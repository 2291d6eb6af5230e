"""A warm start compares automatic channel independence by what it builds, not by how it was asked for."""

from __future__ import annotations

from pathlib import Path

from forecaster.params import ModelParams
from forecaster.warm_start import Parent
from pipelines import WindowSpec

COLUMNS = ["HUFL", "OT"]


def parent(params: ModelParams, spec: WindowSpec) -> Parent:
    return Parent(Path("parent"), {"spec": spec.to_dict(), "params": params.to_dict(), "freq": "1h"}, "0" * 16)


def test_automatic_independence_equals_the_explicit_value_it_resolves_to():
    every_column = WindowSpec(input_steps=8, horizon=2, features=COLUMNS, targets=COLUMNS)
    automatic = parent(ModelParams(), every_column)  # resolves to independent
    assert automatic.differences(every_column, ModelParams(channel_independent=True)) == []
    assert automatic.differences(every_column, ModelParams(channel_independent=False)) == [
        "channel_independent False here, True in the parent"]


def test_an_older_mixing_parent_is_not_continued_as_independent():
    every_column = WindowSpec(input_steps=8, horizon=2, features=COLUMNS, targets=COLUMNS)
    older = parent(ModelParams(channel_independent=False), every_column)
    assert older.differences(every_column, older.params) == []
    assert older.differences(every_column, ModelParams()) == ["channel_independent True here, False in the parent"]
