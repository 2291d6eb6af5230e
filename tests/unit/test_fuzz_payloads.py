"""Fuzzing `parse_message`: any topic, any bytes, any JSON object gives a Reading or a
Rejection with a cause and a detail, never an exception; plus the regressions it found."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.payloads import ParseRules, Reading, Rejection, parse_message
from pipelines.rejections import Cause
from pipelines.timeutil import TIME_MAX, TIME_MIN

RULES = [
    ParseRules(subscription="sensors/+/readings", features=("HUFL", "OT"), known=("LOAD",)),
    ParseRules(subscription="sensors/+/readings", features=("OT",), ignore_unknown=False, arrival_time=True,
               max_future_s=1e300),
    ParseRules(subscription="tele/+/SENSOR", features=("T", "OT"), mapping=(("T", "SI7021.Temperature"),),
               ts_field="meta.Time"),
    ParseRules(subscription="#", features=("OT",), arrival_time=True, max_bytes=256),
]
NOWS = [None, pd.Timestamp("2026-11-23T12:00:00Z"), TIME_MIN, TIME_MAX]


class Raw(str):
    """A JSON literal written as is: ``NaN``, ``Infinity``, ``1e999``, 40-digit integers."""


def to_json(value: object) -> str:
    """JSON text that may hold the literals `json.dumps` refuses or normalises."""
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {to_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(to_json(v) for v in value) + "]"
    return json.dumps(value)


LITERALS = st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1e-999", "0e0", "-0",
                            "9" * 40, "-" + "9" * 40, "1" + "0" * 5000]).map(Raw)
ISO_TIMES = st.datetimes(min_value=pd.Timestamp("0001-01-01").to_pydatetime(),
                         max_value=pd.Timestamp("9999-12-31").to_pydatetime()).map(lambda d: d.isoformat())
ODD_TIMES = (
    ISO_TIMES
    | ISO_TIMES.map(lambda t: t + "Z") | ISO_TIMES.map(lambda t: t + "+14:00") | ISO_TIMES.map(lambda t: t + "-12:00")
    | st.integers(min_value=-(10**30), max_value=10**30) | st.floats() | LITERALS
    | st.integers(min_value=-(10**30), max_value=10**30).map(str)
    | st.sampled_from(["1677-09-21T00:12:43.145224193", "2262-04-11T23:47:16.854775807", "2262-04-12",
                       "0000-00-00", "+275760-09-13", "10000-01-01", "2026-02-30", "24:00", "now", "", " ",
                       "1.7e9", "0x10", "1_700_000_000", "١٧٠٠٠٠٠٠٠٠", "2026-11-23T12:00:00+99:00"])
    | st.text(max_size=30)
)
NUMBERS = (st.integers() | st.floats() | LITERALS | st.floats().map(repr) | st.integers().map(str)
           | st.sampled_from(["21.5", " 4.5e1 ", "", "abc", "1,5", "nan", "inf"]))
KEYS = st.sampled_from(["ts", "time", "timestamp", "Time", "datetime", "sensor", "values", "HUFL", "OT", "T",
                        "SI7021", "Temperature", "meta", "LOAD"]) | st.text(max_size=6)
JSON = st.recursive(
    st.none() | st.booleans() | NUMBERS | ODD_TIMES | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=16,
)
OBJECTS = st.fixed_dictionaries(
    {}, optional={"ts": ODD_TIMES, "time": ODD_TIMES, "sensor": st.text(max_size=5) | JSON, "OT": NUMBERS,
                  "HUFL": NUMBERS, "values": st.dictionaries(KEYS, NUMBERS, max_size=3) | JSON,
                  "meta": st.fixed_dictionaries({}, optional={"Time": ODD_TIMES}),
                  "SI7021": st.fixed_dictionaries({}, optional={"Temperature": NUMBERS})},
) | st.dictionaries(KEYS, JSON, max_size=6)
TOPICS = st.sampled_from(["sensors/t1/readings", "tele/x/SENSOR", "sensors/+/readings", "", "/", "sensors//readings",
                          "sensors/a/b/readings", "sensors/$SYS/readings"]) | st.text(max_size=40)


def check(result: object, rules: ParseRules) -> None:
    """The contract of `parse_message` for any input."""
    assert isinstance(result, (Reading, Rejection)), result
    if isinstance(result, Rejection):
        assert isinstance(result.cause, Cause)
        assert isinstance(result.detail, str) and result.detail.strip()
        return
    assert str(result.ts.tz) == "UTC" and result.ts.unit == "ns"
    assert TIME_MIN <= result.ts <= TIME_MAX
    assert len(result.values) == len(rules.features)
    assert all(isinstance(v, float) and (math.isfinite(v) or math.isnan(v)) for v in result.values)
    assert any(not math.isnan(v) for v in result.values)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=OBJECTS, topic=TOPICS, rules=st.sampled_from(RULES), now=st.sampled_from(NOWS))
def test_any_json_object_is_a_reading_or_a_rejection(body, topic, rules, now):
    check(parse_message(topic, to_json(body).encode(), rules, now=now), rules)


@settings(max_examples=300, deadline=None)
@given(payload=st.binary(max_size=300) | JSON.map(lambda v: to_json(v).encode()), topic=TOPICS,
       rules=st.sampled_from(RULES), now=st.sampled_from(NOWS))
def test_any_bytes_are_a_reading_or_a_rejection(payload, topic, rules, now):
    check(parse_message(topic, payload, rules, now=now), rules)


@settings(max_examples=300, deadline=None)
@given(ts=ODD_TIMES, now=st.sampled_from(NOWS))
def test_any_timestamp_is_a_time_in_range_or_a_bad_timestamp(ts, now):
    rules = RULES[1]
    result = parse_message("sensors/t1/readings", to_json({"ts": ts, "OT": 1.5}).encode(), rules, now=now)
    check(result, rules)
    if isinstance(result, Rejection):
        assert result.cause in (Cause.BAD_TIMESTAMP, Cause.FUTURE_TIMESTAMP), result


# Regressions: each of these raised `OutOfBoundsDatetime` from pandas, was refused with pandas'
# own words ("Cannot cast ... without overflow", "Exceeds the limit (4300 digits)"), or wrapped.


@pytest.mark.parametrize("ts, shown", [
    ('"3000-01-01"', "time '3000-01-01' is outside"),
    ('"0001-01-01T00:00:00Z"', "time '0001-01-01T00:00:00Z' is outside"),
    ('"2262-04-11T23:00:00-05:00"', "is outside"),  # in range as written, not in UTC
    ("99999999999", "time 99999999999 (epoch seconds) is outside"),
    ("-99999999999", "time -99999999999 (epoch seconds) is outside"),
    ("1e300", "(epoch nanoseconds) is outside"),
    ('"' + "9" * 5000 + '"', "(epoch) is outside"),
    ("9" * 30, "(epoch nanoseconds) is outside"),
])
def test_a_timestamp_outside_the_supported_range_is_a_clear_rejection(ts, shown):
    payload = (b'{"ts": ' + ts.encode() + b', "OT": 1}')
    result = parse_message("sensors/t1/readings", payload, RULES[1], now=None)
    assert isinstance(result, Rejection) and result.cause is Cause.BAD_TIMESTAMP
    assert shown in result.detail and result.detail.endswith("supported range 1677-09-22..2262-04-10")


@pytest.mark.parametrize("ts, expected", [
    ('"1677-09-22T00:00:00Z"', "1677-09-22 00:00:00+00:00"),
    ('"2262-04-10T23:59:59Z"', "2262-04-10 23:59:59+00:00"),
    ("-9.2e9", "1678-06-18 12:26:40+00:00"),  # = pd.Timestamp(-9.2e9, unit="s")
])
def test_times_at_the_edges_of_the_range_are_readings(ts, expected):
    result = parse_message("sensors/t1/readings", (b'{"ts": ' + ts.encode() + b', "OT": 1}'), RULES[1], now=None)
    assert isinstance(result, Reading) and str(result.ts) == expected


def test_a_40000_digit_number_is_a_clear_rejection_not_a_json_error():
    # json.loads raised "Exceeds the limit (4300 digits)", reported as a non-JSON payload
    payload = b'{"ts": 1767607200, "OT": 1' + b"0" * 40_000 + b"}"
    result = parse_message("sensors/t1/readings", payload, ParseRules(subscription="s/+/r", features=("OT",),
                                                                       max_bytes=100_000), now=None)
    assert isinstance(result, Rejection) and result.cause is Cause.BAD_TOPIC  # the topic is checked first
    result = parse_message("s/t1/r", payload, ParseRules(subscription="s/+/r", features=("OT",), max_bytes=100_000))
    assert isinstance(result, Rejection) and result.cause is Cause.NON_FINITE and result.detail == "'OT' is inf"


def test_the_arrival_time_is_a_nanosecond_timestamp():
    # a caller's pd.Timestamp("...") holds microseconds in pandas 3; the reading carried it as is
    now = pd.Timestamp("2026-11-23T12:00:00Z")
    assert now.unit != "ns"
    result = parse_message("sensors/t1/readings", b'{"OT": 1}', RULES[1], now=now)
    assert isinstance(result, Reading) and result.ts == now and result.ts.unit == "ns"
