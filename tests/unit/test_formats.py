"""The output formats (`forecaster.serve.formats`): influx lines read back by a strict
line-protocol parser give the numbers and times of the JSON payload."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from line_protocol import parse_line, parse_payload

from forecaster.serve.formats import forecast_payload, formatter, influx_lines, tag_value
from pipelines.errors import ForecasterError

HOUR = 3_600_000_000_000
def test_the_strict_parser_refuses_what_line_protocol_refuses():
    parse_line("forecast,sensor=a\\ b value=1.5 10")
    for bad in ("forecast,sensor=a b value=1.5 10", "forecast,sensor=a=b value=1.5 10",
                "forecast,sensor=a\\b value=1.5 10", "forecast,sensor= value=1 10", "forecast value=x 10"):
        with pytest.raises(ValueError):
            parse_line(bad)


@pytest.mark.parametrize("step_ns", [HOUR, 500_000_000])
def test_influx_lines_parse_back_to_the_json_forecast(step_ns):
    rng = np.random.default_rng(0)
    forecast = rng.normal(30, 10, size=(5, 2)).astype("float32")  # what predict_windows returns
    targets, slot = ["OT", "HUFL"], 470_000
    fmt = {name: formatter(name, step_ns=step_ns, freq="x", model="etth1-lstm", targets=targets) for name in ("json", "influx")}
    body = json.loads(fmt["json"]("t1", slot, forecast))
    points = parse_payload(fmt["influx"]("t1", slot, forecast))
    assert len(points) == 5 * 2
    expected = {}
    for k, item in enumerate(body["forecast"], start=1):
        ts = pd.Timestamp(item["ts"]).value
        for target in targets:
            expected[(k, target)] = (item[target], ts)
    got = {}
    for measurement, tags, fields, ts in points:
        assert measurement == "forecast" and set(fields) == {"value"}
        assert tags == {"model": "etth1-lstm", "sensor": "t1", "step": tags["step"], "target": tags["target"]}
        got[(int(tags["step"]), tags["target"])] = (fields["value"], ts)
    assert got == expected  # the same numbers (no rounding) and the same times
    assert expected[(1, "OT")][1] == (slot + 1) * step_ns


def test_tag_values_escape_spaces_commas_and_equals():
    sensor = "hall 2,floor=1"
    payload = influx_lines(sensor, 0, np.array([[1.25]]), step_ns=HOUR, model="my model", targets=["O T=x"])
    assert payload == b"forecast,model=my\\ model,sensor=hall\\ 2\\,floor\\=1,step=1,target=O\\ T\\=x value=1.25 3600000000000"
    (_, tags, fields, ts), = parse_payload(payload)
    assert tags == {"model": "my model", "sensor": sensor, "step": "1", "target": "O T=x"} and fields == {"value": 1.25}


@pytest.mark.parametrize("sensor", ["", "a\\b", "trailing\\", "two\nlines", "tab\there"])
def test_ids_line_protocol_cannot_carry_are_refused_not_altered(sensor):
    fmt = formatter("influx", step_ns=HOUR, freq="1h", model="m", targets=["OT"])
    with pytest.raises(ForecasterError, match="cannot be an InfluxDB tag value"):
        fmt(sensor, 0, np.array([[1.0]]))


def test_a_bad_target_or_model_name_is_refused_at_start():
    with pytest.raises(ForecasterError, match="target 'a\\\\\\\\b'"):
        formatter("influx", step_ns=HOUR, freq="1h", model="m", targets=["a\\b"])
    with pytest.raises(ForecasterError, match="`output_format` must be 'json' or 'influx'"):
        formatter("csv", step_ns=HOUR, freq="1h", model="m", targets=["OT"])
    assert tag_value("x") == "x"


def test_json_formatter_is_the_design_payload_across_slots():
    fmt = formatter("json", step_ns=HOUR, freq="1h", model="m", targets=["OT"])
    for slot in (10, 10, 11, 10):  # the cached times follow the slot
        forecast = np.array([[1.5], [2.5]])
        assert fmt("t1", slot, forecast) == forecast_payload("t1", slot, forecast, step_ns=HOUR, freq="1h", model="m", targets=["OT"])
    assert json.loads(fmt("t1", 11, np.array([[1.5], [2.5]])))["issued_at"] == "1970-01-01T11:00:00Z"


class _BandedModel:
    """A stand-in forecaster: the forecast is the window's last row, the band +-1 and +-2."""

    def predict_windows(self, windows, *, sensors=None, ends=None):
        return windows[:, -1:, :1].repeat(2, axis=1)

    def interval_bounds(self, windows, forecast, level):
        half = {0.8: 1.0, 0.95: 2.0}[level]
        return forecast - half, forecast + half


def test_banded_forecasts_carry_lo_and_hi_per_level_in_json_and_influx():
    import json

    from forecaster.serve.formats import banded, formatter

    predict = banded(_BandedModel(), (0.8, 0.95))
    stacked = predict(np.full((1, 3, 1), 10.0), ["t1"], [0])
    assert stacked.shape == (1, 2, 5)
    fmt = formatter("json", step_ns=3_600_000_000_000, freq="1h", model="m", targets=["OT"], levels=(0.8, 0.95))
    step = json.loads(fmt("t1", 0, stacked[0]))["forecast"][0]
    assert step == {"ts": "1970-01-01T01:00:00Z", "OT": 10.0, "lo": {"0.8": {"OT": 9.0}, "0.95": {"OT": 8.0}},
                    "hi": {"0.8": {"OT": 11.0}, "0.95": {"OT": 12.0}}}
    influx = formatter("influx", step_ns=3_600_000_000_000, freq="1h", model="m", targets=["OT"], levels=(0.95,))
    stacked = banded(_BandedModel(), (0.95,))(np.full((1, 3, 1), 10.0), ["t1"], [0])
    assert influx("t1", 0, stacked[0]).decode().splitlines()[0] == (
        "forecast,model=m,sensor=t1,step=1,target=OT value=10.0,lo_0.95=8.0,hi_0.95=12.0 3600000000000")
    assert banded(_BandedModel(), ())(np.full((1, 3, 1), 10.0), ["t1"], [0]).shape == (1, 2, 1)  # no levels: the forecast
