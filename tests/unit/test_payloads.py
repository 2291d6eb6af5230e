"""`parse_message`: every accepted shape and every rejection cause, without a broker."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from pipelines.errors import ForecasterError
from pipelines.payloads import ParseRules, Reading, Rejection, encode_reading, parse_message
from pipelines.rejections import Cause

RULES = ParseRules(subscription="sensors/+/readings", features=("HUFL", "OT"), known=("LOAD",), max_bytes=512)
NOW = pd.Timestamp("2026-11-23T12:00:00Z")
TOPIC = "sensors/t1/readings"

GOOD = {
    "nested_iso": (TOPIC, {"ts": "2026-11-23T12:00:00Z", "values": {"HUFL": 5.83, "OT": 30.5}}),
    "flat_epoch": (TOPIC, {"ts": 1795435200, "HUFL": 5.83, "OT": 30.5}),
    "sensor_field_agrees": (TOPIC, {"ts": 1795435200, "sensor": "t1", "HUFL": 5.83, "OT": 30.5}),
    "known_extra_column": (TOPIC, {"ts": 1795435200, "values": {"HUFL": 5.83, "OT": 30.5, "LOAD": 1}}),
    "integers": (TOPIC, {"ts": 1795435200.0, "HUFL": 5, "OT": 30}),
}


@pytest.mark.parametrize("case", sorted(GOOD))
def test_good_messages(case):
    topic, body = GOOD[case]
    reading = parse_message(topic, json.dumps(body).encode(), RULES, now=NOW)
    assert isinstance(reading, Reading), reading
    assert reading.sensor == "t1" and reading.ts == NOW
    assert reading.values in ((5.83, 30.5), (5.0, 30.0))


BAD = {
    "oversized": (TOPIC, b'{"ts": 0, "HUFL": 1, "OT": 2, "pad": "' + b"x" * 600 + b'"}'),
    "non_json": (TOPIC, b"{not json"),
    "non_json_binary": (TOPIC, b"\xff\xfe"),
    "not_object": (TOPIC, b"[1, 2]"),
    "bad_topic": ("other/t1/readings", b'{"ts": 0, "HUFL": 1, "OT": 2}'),
    "bad_sensor_id": (TOPIC, b'{"ts": 0, "sensor": "t2", "HUFL": 1, "OT": 2}'),
    "missing_field": (TOPIC, b'{"HUFL": 1, "OT": 2}'),
    "bad_timestamp": (TOPIC, b'{"ts": "yesterday", "HUFL": 1, "OT": 2}'),
    "future_timestamp": (TOPIC, b'{"ts": "2100-01-01T00:00:00Z", "HUFL": 1, "OT": 2}'),
    "wrong_type": (TOPIC, b'{"ts": 0, "HUFL": "1.0", "OT": 2}'),
    "wrong_type_bool": (TOPIC, b'{"ts": 0, "HUFL": true, "OT": 2}'),
    "wrong_type_null": (TOPIC, b'{"ts": 0, "HUFL": null, "OT": 2}'),
    "wrong_type_values": (TOPIC, b'{"ts": 0, "values": [1, 2]}'),
    "non_finite": (TOPIC, b'{"ts": 0, "HUFL": NaN, "OT": 2}'),
    "non_finite_inf": (TOPIC, b'{"ts": 0, "HUFL": 1, "OT": -Infinity}'),
    "non_finite_overflow": (TOPIC, b'{"ts": 0, "HUFL": 1e999, "OT": 2}'),
    "missing_feature": (TOPIC, b'{"ts": 0, "values": {"OT": 2}}'),
    "unknown_feature": (TOPIC, b'{"ts": 0, "HUFL": 1, "OT": 2, "OTT": 3}'),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_every_bad_message_is_a_rejection_with_its_cause(case):
    topic, payload = BAD[case]
    result = parse_message(topic, payload, RULES, now=NOW)
    assert isinstance(result, Rejection), result
    expected = next(cause for cause in Cause if case.startswith(cause.value))
    assert result.cause is expected and result.detail


@pytest.mark.parametrize("sensor", ["a/b", "#", "+", "a\u0000b", "$SYS", "x" * 129, "", "tab\there", 7])
def test_topic_injection_through_the_sensor_field_is_refused(sensor):
    rules = ParseRules(subscription="sensors/readings", features=("OT",))
    body = json.dumps({"ts": 0, "sensor": sensor, "OT": 1.0}).encode()
    result = parse_message("sensors/readings", body, rules)
    assert isinstance(result, Rejection) and result.cause == "bad_sensor_id", result


def test_sensor_from_a_multi_level_wildcard_filter_comes_from_the_payload():
    rules = ParseRules(subscription="plant/#", features=("OT",))
    ok = parse_message("plant/hall/3", b'{"ts": 0, "sensor": "m3", "OT": 1}', rules)
    assert isinstance(ok, Reading) and ok.sensor == "m3"
    assert parse_message("plant/hall/3", b'{"ts": 0, "OT": 1}', rules).cause == "missing_field"


def test_ignore_unknown_accepts_extra_fields():
    rules = ParseRules(subscription="s/+", features=("OT",), ignore_unknown=True)
    assert isinstance(parse_message("s/a", b'{"ts": 0, "OT": 1, "battery": 0.9}', rules), Reading)


def test_encoded_readings_round_trip_exactly():
    values = [0.1, 1 / 3, 1e-300, 123456789.123456789, -0.0]
    names = [f"c{i}" for i in range(len(values))]
    ts = pd.Timestamp("2026-01-01T00:00:00.123456789Z")
    rules = ParseRules(subscription="s/+", features=tuple(names))
    reading = parse_message("s/a", encode_reading(ts, names, values), rules)
    assert reading.values == tuple(values) and reading.ts == ts


@pytest.mark.parametrize("subscription", ["a/+/+", "a/#/b", "a/b+", ""])
def test_bad_subscription_filters(subscription):
    with pytest.raises(ForecasterError, match="subscription"):
        ParseRules(subscription=subscription, features=("OT",))


def test_rejection_causes_keep_their_metric_label_values():
    """Dashboards select on these strings (the ``cause`` label): adding one is fine, renaming is not."""
    assert [str(cause) for cause in Cause] == [
        "oversized", "non_json", "not_object", "bad_topic", "bad_sensor_id", "missing_field", "bad_timestamp",
        "future_timestamp", "wrong_type", "non_finite", "missing_feature", "unknown_feature",
        "duplicate", "out_of_order", "queue_full", "shutdown", "window_error",
    ]
