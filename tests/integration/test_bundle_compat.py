"""Bundles saved before the house was split into wings load and give the same numbers."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import DATA, ROOT

import forecaster
from pipelines import read_csv

OLD = ROOT / "tests" / "fixtures" / "bundles-bc334d0"
EXPECTED = json.loads((OLD / "expected.json").read_text())


@pytest.fixture(scope="module")
def frame():
    return read_csv(DATA / "ETTh1.csv").iloc[:600]


@pytest.mark.parametrize("name", ["forecast-gru-segment", "forecast-lstm-stacked"])
def test_old_forecast_bundles_forecast_the_same_numbers(name, frame):
    model = forecaster.load(OLD / name)
    assert (model.params.scale, model.params.calendar, model.sensor_scalers_) == ("global", "none", None)
    got = model.predict(frame.iloc[-200:])["OT"].to_numpy()
    np.testing.assert_allclose(got, EXPECTED[name], rtol=1e-5, atol=1e-4)


def test_old_backfill_bundle_fills_the_same_numbers(frame):
    holed = frame.iloc[-100:].copy()
    holed.loc[holed.index[40:43], "OT"] = np.nan
    filled = forecaster.Backfiller.load(OLD / "backfill-bilstm").fill(holed).frame
    np.testing.assert_allclose(filled["OT"].iloc[38:45].to_numpy(), EXPECTED["backfill-bilstm"], rtol=1e-5, atol=1e-4)
    assert filled["OT_filled"].iloc[38:45].tolist() == [False, False, True, True, True, False, False]
