"""Calendar encodings (batch rows = stream windows), per-sensor statistics, and their options."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forecaster.params import ModelParams
from pipelines.calendar import PARTS, encode, parse_calendar, widen, window_calendar
from pipelines.errors import ForecasterError
from pipelines.fleet import stack_series
from pipelines.scaling import Scaler
from pipelines.sensor_scaling import SensorScalers
from pipelines.windows import WindowSpec, gather

HOUR = 3_600 * 10**9


def test_encodings_of_known_instants():
    monday_noon = pd.Timestamp("2026-11-23 12:00", tz="UTC")
    hour_sin, hour_cos, dow_sin, dow_cos = encode([monday_noon], ("hour", "dow"))[0]
    assert (round(hour_sin, 9), hour_cos) == (0.0, -1.0)  # half a day
    assert np.arctan2(dow_sin, dow_cos) == pytest.approx(2 * np.pi * 0.5 / 7)  # Monday, half through
    new_year, july = encode(pd.to_datetime(["2026-01-01 00:00", "2026-07-02 12:00"]).tz_localize("UTC"), ("doy", "month"))
    assert new_year.tolist() == [0.0, 1.0, 0.0, 1.0]
    assert july[1] == pytest.approx(-1.0, abs=1e-3)  # doy: half the year
    # naive and aware timestamps, datetime64 and ns integers are the same instants
    ns = np.array([monday_noon.value])
    for form in ([monday_noon], [monday_noon.tz_localize(None)], ns.astype("datetime64[ns]"), ns):
        np.testing.assert_array_equal(encode(form, PARTS), encode(ns, PARTS))


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2_000_000), st.integers(1, 30), st.sampled_from([HOUR, 15 * 60 * 10**9, 24 * HOUR]),
       st.sampled_from([("hour",), ("hour", "dow"), PARTS]))
def test_stream_windows_encode_exactly_the_batch_rows(first_slot, L, step, parts):
    """The daemon's window (last slot + cadence) gets the encodings the batch path gives its rows."""
    rows = encode((first_slot + np.arange(L + 5)) * step, parts)
    starts = np.arange(5)
    batch = gather(rows, starts, L)
    stream = window_calendar((first_slot + starts + L - 1) * step, step, L, parts)
    np.testing.assert_array_equal(stream, batch)


def test_auto_calendar_turns_on_where_the_forecast_reaches_past_the_window():
    one = WindowSpec(input_steps=24, horizon=48, features=["t"], targets=["t"])
    auto = ModelParams()
    assert auto.calendar == "auto" and auto.calendar_parts == ()  # nothing until training resolves it
    assert auto.resolved(one, HOUR).calendar == "hour,dow"
    assert auto.resolved(WindowSpec(input_steps=24, horizon=24, features=["t"], targets=["t"]), HOUR).calendar == "none"
    assert auto.resolved(one, 24 * HOUR).calendar == "none"  # a daily cadence: no time of day to tell
    every = WindowSpec(input_steps=24, horizon=48, features=["a", "b"], targets=["a", "b"])
    assert auto.resolved(every, HOUR).calendar == "none"  # channel independent: stays independent
    assert ModelParams(channel_independent=False).resolved(every, HOUR).calendar == "hour,dow"
    assert ModelParams(calendar="doy").resolved(one, HOUR).calendar == "doy"  # asked for: kept
    assert auto.resolved(one, HOUR, parent=ModelParams(calendar="none")).calendar == "none"  # a warm start: the parent's
    before = {k: v for k, v in ModelParams(calendar="none").to_dict().items() if k != "calendar"}
    assert ModelParams.from_dict(before).calendar == "none"  # a bundle saved before calendar inputs existed
    assert ModelParams(calendar=" auto").calendar == "auto"


def test_calendar_option_is_canonical_and_checked():
    assert parse_calendar("dow, hour") == ("hour", "dow") and parse_calendar("none") == ()
    assert ModelParams(calendar="month,hour").calendar == "hour,month"
    assert ModelParams().calendar_parts == () and ModelParams().scale == "global"
    for bad in ("hour,hour", "minute", 3, "auto,hour"):
        with pytest.raises(ForecasterError, match="calendar"):
            ModelParams(calendar=bad)
    with pytest.raises(ForecasterError, match="scale"):
        ModelParams(scale="local")
    spec = WindowSpec(input_steps=3, horizon=1, features=["a"], targets=["b"])
    wide = widen(spec, ("hour",))
    assert wide.features == ("a", "calendar:hour_sin", "calendar:hour_cos") and wide.target_index == (3,)
    assert widen(spec, ()) is spec


def test_sensor_scalers_fall_back_to_the_global_statistics_and_round_trip():
    glob = Scaler(columns=["t"]).fit(np.array([[0.0], [10.0]]))
    freezer = Scaler(columns=["t"]).fit(np.array([[-21.0], [-19.0]]))
    scalers = SensorScalers(glob, {"freezer": freezer})
    values = np.array([[[-20.0]], [[5.0]]])
    scaled = scalers.transform(values, ["freezer", "new"], [0])
    assert scaled.ravel().tolist() == [0.0, 0.0]
    np.testing.assert_allclose(scalers.inverse_transform(scaled, ["freezer", "new"], [0]), values)
    again = SensorScalers.from_dict(glob, scalers.to_dict())
    assert again.to_dict() == scalers.to_dict() == {"freezer": {"mean": [-20.0], "scale": [1.0]}}
    assert again.unseen(["new", "freezer", "new"]) == ["new"]
    with pytest.raises(ForecasterError, match="freezer"):
        SensorScalers.from_dict(glob, {"freezer": {"mean": [0.0], "scale": [-1.0]}})
    with pytest.raises(ForecasterError, match="2 sensor ids for 1 windows"):
        scalers.transform(values[:1], ["a", "b"])


def test_fleet_names_the_sensor_of_each_window_start():
    parts = [(np.zeros((5, 1)), np.zeros(5, int), np.zeros(5, int)), (np.ones((4, 1)), np.zeros(4, int),
                                                                      np.zeros(4, int))]
    fleet = stack_series(iter(parts), length=2, names=("a", "b"))
    assert fleet.sensors_of(fleet.of(0)).tolist() == ["a"] * 4 + ["b"] * 3
