"""`parse_message`: every accepted shape and every rejection cause, without a broker."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.errors import ForecasterError
from pipelines.payload_fields import parse_map
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
    "wrong_type": (TOPIC, b'{"ts": 0, "HUFL": "1.0 kW", "OT": 2}'),
    "wrong_type_bool": (TOPIC, b'{"ts": 0, "HUFL": true, "OT": 2}'),
    "wrong_type_object": (TOPIC, b'{"ts": 0, "HUFL": {"v": 1}, "OT": 2}'),
    "wrong_type_values": (TOPIC, b'{"ts": 0, "values": [1, 2]}'),
    "non_finite": (TOPIC, b'{"ts": 0, "HUFL": NaN, "OT": 2}'),
    "non_finite_inf": (TOPIC, b'{"ts": 0, "HUFL": 1, "OT": -Infinity}'),
    "non_finite_overflow": (TOPIC, b'{"ts": 0, "HUFL": 1e999, "OT": 2}'),
    "missing_feature": (TOPIC, b'{"ts": 0, "values": {"LOAD": 2}}'),
    "missing_feature_all_null": (TOPIC, b'{"ts": 0, "HUFL": null, "OT": ""}'),
    "non_finite_string": (TOPIC, b'{"ts": 0, "HUFL": "1e999", "OT": 2}'),
    "bad_timestamp_epoch_overflow": (TOPIC, b'{"ts": 1e30, "HUFL": 1, "OT": 2}'),
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


def test_unknown_fields_are_ignored_and_reported_unless_strict():
    reading = parse_message("s/a", b'{"ts": 0, "OT": 1, "battery": 0.9, "rssi": -70}', ParseRules(subscription="s/+", features=("OT",)))
    assert isinstance(reading, Reading) and reading.ignored == ("battery", "rssi")
    strict = ParseRules(subscription="s/+", features=("OT",), ignore_unknown=False)  # --reject-unknown
    result = parse_message("s/a", b'{"ts": 0, "OT": 1, "OTT": 3}', strict)
    assert isinstance(result, Rejection) and result.cause is Cause.UNKNOWN_FEATURE


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


# ------------------------------------------------------------------ device payloads (issue 19)
def test_zigbee2mqtt_without_a_timestamp_takes_the_receive_time():
    body = b'{"temperature": 21.5, "humidity": 40, "battery": 97, "linkquality": 120}'
    rules = ParseRules(subscription="zigbee2mqtt/+", features=("temperature", "humidity"), arrival_time=True)
    reading = parse_message("zigbee2mqtt/kitchen", body, rules, now=NOW)
    assert reading == Reading("kitchen", NOW, (21.5, 40.0), ignored=("battery", "linkquality"))
    mapped = ParseRules(subscription="zigbee2mqtt/+", features=("T", "RH"), mapping=(("T", "temperature"), ("RH", "humidity")),
                        arrival_time=True)
    reading = parse_message("zigbee2mqtt/kitchen", body, mapped, now=NOW)
    assert reading == Reading("kitchen", NOW, (21.5, 40.0), ignored=("battery", "linkquality"))
    strict = ParseRules(subscription="zigbee2mqtt/+", features=("temperature", "humidity"))  # no --arrival-time
    assert parse_message("zigbee2mqtt/kitchen", body, strict, now=NOW).cause is Cause.MISSING_FIELD


def test_tasmota_nested_fields_and_a_zoneless_time():
    body = b'{"Time": "2026-01-05T10:00:00", "SI7021": {"Temperature": 21.3, "Humidity": 40.1}, "TempUnit": "C"}'
    rules = ParseRules(subscription="tele/+/SENSOR", features=("T", "H"),
                       mapping=(("T", "SI7021.Temperature"), ("H", "SI7021.Humidity")))
    reading = parse_message("tele/plug1/SENSOR", body, rules, now=NOW)
    assert reading == Reading("plug1", pd.Timestamp("2026-01-05T10:00:00Z"), (21.3, 40.1), ignored=("TempUnit",))


@pytest.mark.parametrize("epoch", [1767607200, 1767607200.0, 1767607200000, 1767607200000000, 1767607200000000000,
                                   "1767607200000", "2026-01-05T11:00:00+01:00", "2026-01-05 10:00"])
@pytest.mark.parametrize("key", ["ts", "time", "timestamp", "Time", "datetime"])
def test_timestamps_by_name_and_magnitude(epoch, key):
    body = json.dumps({key: epoch, "HUFL": 1, "OT": 2}).encode()
    assert parse_message(TOPIC, body, RULES, now=NOW).ts == pd.Timestamp("2026-01-05T10:00:00Z")


def test_ts_field_is_a_dotted_path():
    rules = ParseRules(subscription="s/+", features=("OT",), ts_field="meta.sent_ms", ignore_unknown=False)
    reading = parse_message("s/a", b'{"meta": {"sent_ms": 1767607200123}, "OT": 1}', rules, now=NOW)
    assert reading.ts == pd.Timestamp("2026-01-05T10:00:00.123Z") and reading.ignored == ()
    assert parse_message("s/a", b'{"ts": 0, "OT": 1}', rules, now=NOW).cause is Cause.MISSING_FIELD


def test_numbers_sent_as_strings_are_numbers():
    reading = parse_message(TOPIC, b'{"ts": "1767607200", "HUFL": " 5.83 ", "OT": "-3e1"}', RULES, now=NOW)
    assert reading.values == (5.83, -30.0)


@pytest.mark.parametrize("body, absent", [
    (b'{"ts": 0, "HUFL": null, "OT": 2}', ()),
    (b'{"ts": 0, "HUFL": "", "OT": 2}', ()),
    (b'{"ts": 0, "OT": 2}', ("HUFL",)),
    (b'{"ts": 0, "values": {"OT": 2}}', ("HUFL",)),
])
def test_null_and_missing_features_are_missing_values(body, absent):
    reading = parse_message(TOPIC, body, RULES, now=NOW)
    assert isinstance(reading, Reading), reading
    assert math.isnan(reading.values[0]) and reading.values[1] == 2.0 and reading.absent == absent


def test_a_map_path_that_does_not_match_leaves_the_feature_absent():
    rules = ParseRules(subscription="s/+", features=("T", "H"), mapping={"T": "SI7021.Temperatur", "H": "SI7021.Humidity"})
    reading = parse_message("s/a", b'{"ts": 0, "SI7021": {"Temperature": 21.3, "Humidity": 40.1}}', rules)
    assert reading.absent == ("T",) and math.isnan(reading.values[0]) and reading.values[1] == 40.1


@pytest.mark.parametrize("items, match", [(["T"], "FEATURE=PATH"), (["=a"], "FEATURE=PATH"), (["T=a..b"], "dotted path"),
                                          (["T=a", "T=b"], "twice")])
def test_malformed_map_options(items, match):
    with pytest.raises(ForecasterError, match=match):
        parse_map(items)


def test_a_map_must_name_a_model_column():
    with pytest.raises(ForecasterError, match="not a model column"):
        ParseRules(subscription="s/+", features=("T",), mapping=(("X", "a.b"),))


KEYS = st.sampled_from(["ts", "time", "Time", "sensor", "values", "HUFL", "OT", "T", "SI7021", "Temperature", "meta"]) | st.text(max_size=4)
FUZZ_RULES = [
    RULES,
    ParseRules(subscription="sensors/+/readings", features=("HUFL", "OT"), ignore_unknown=False, arrival_time=True),
    ParseRules(subscription="tele/+/SENSOR", features=("T", "OT"), mapping=(("T", "SI7021.Temperature"),), ts_field="meta.Time"),
    ParseRules(subscription="#", features=("OT",), arrival_time=True),
]
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
    | st.sampled_from(["21.5", "", "1767607200000", "2026-01-05T10:00:00", "NaN", "1e999"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(
    body=st.dictionaries(KEYS, JSON, max_size=6) | JSON,
    raw=st.binary(max_size=40),
    topic=st.sampled_from([TOPIC, "tele/x/SENSOR", "sensors/+/readings", "", "sensors/a/b/c"]),
    rules=st.sampled_from(FUZZ_RULES),
    now=st.sampled_from([None, NOW]),
)
def test_parse_message_never_raises(body, raw, topic, rules, now):
    for payload in (json.dumps(body).encode(), raw):
        result = parse_message(topic, payload, rules, now=now)
        assert isinstance(result, (Reading, Rejection))
        if isinstance(result, Rejection):
            assert isinstance(result.cause, Cause) and result.detail
        else:
            assert len(result.values) == len(rules.features) and result.ts.tzinfo is not None


def test_parse_command_takes_the_payload_options_from_flags_or_toml(tmp_path, capsys):
    from forecaster.cli import main

    body = '{"Time": 1767607200000, "SI7021": {"Temperature": "21.3"}, "TempUnit": "C"}'
    config = tmp_path / "f.toml"
    config.write_text('[parse]\nmap = ["T=SI7021.Temperature", "H=SI7021.Humidity"]\n')
    args = ["parse", "tele/p/SENSOR", body, "--subscribe", "tele/+/SENSOR", "--features", "T,H"]
    assert main(["--config", str(config), *args]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == {"sensor": "p", "ts": "2026-01-05T10:00:00Z", "values": {"T": 21.3, "H": None},
                               "ignored": ["TempUnit"]}
    assert err.strip() == "warning: --map H=SI7021.Humidity: no such path in this message"
    assert main([*args, "--map", "T=SI7021.Temperature", "--reject-unknown"]) == 2
    assert "unknown_feature" in capsys.readouterr().err
    assert main([*args, "--map", "T:SI7021.Temperature"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_serve_config_checks_the_payload_options():
    from forecaster.serve.config import ServeConfig
    from forecaster.serve.mqtt_settings import BrokerAddress, MqttSettings

    mqtt = MqttSettings(broker=BrokerAddress.parse("mqtt://h"), client_id="c")
    assert ServeConfig(bundle="b", mqtt=mqtt, status_topic="s").ignore_unknown  # ignore (and count) by default
    with pytest.raises(ForecasterError, match="ts_field"):
        ServeConfig(bundle="b", mqtt=mqtt, status_topic="s", ts_field="meta..ts")
    with pytest.raises(ForecasterError, match="dotted path"):
        ServeConfig(bundle="b", mqtt=mqtt, status_topic="s", mapping=(("T", ""),))


@pytest.mark.parametrize("char", ["\x01", "\x7f", "\u0085", "\u009f", "\ud800", "\ufdd0", "\ufffe", "\uffff", "\U0001fffe"])
def test_ids_with_characters_brokers_refuse_in_topics_are_rejected(char):
    from pipelines.payloads import check_sensor_id

    problem = check_sensor_id(f"t{char}1")
    assert problem is not None and f"U+{ord(char):04X}" in problem


@pytest.mark.parametrize("sensor", ["t1", "küche-2", "温度", "plant 3", "\U0001f321"])
def test_ordinary_unicode_ids_are_accepted(sensor):
    from pipelines.payloads import check_sensor_id

    assert check_sensor_id(sensor) is None


def test_a_c1_id_in_the_payload_is_a_bad_sensor_id_rejection():
    from pipelines.payloads import ParseRules, parse_message

    rules = ParseRules(subscription="sensors/readings", features=("OT",))
    item = parse_message("sensors/readings", b'{"ts": 0, "sensor": "t\\u0085", "OT": 1}', rules)
    assert item.cause == Cause.BAD_SENSOR_ID
