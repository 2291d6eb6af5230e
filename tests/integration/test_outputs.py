"""The daemon's outputs on a real broker: InfluxDB line protocol (``--output-format influx``)
and Home Assistant MQTT discovery (``--ha-discovery``)."""

from __future__ import annotations

import json
import re
import time

import numpy as np
import pandas as pd
import pytest
from line_protocol import parse_payload
from mqtt_broker import Collector
from serve_support import DaemonThread, good_payload, publisher, retained_status

from forecaster.cli.app import main

HOUR = pd.Timedelta("1h").value
LAST = "2016-07-02T05:00:00Z"  # the 30th hour of ETTh1
# Home Assistant's documented MQTT discovery schema for a sensor (integrations/mqtt and sensor.mqtt)
CONFIG_TOPIC = re.compile(r"^homeassistant/sensor/(?:[a-zA-Z0-9_-]+/)?[a-zA-Z0-9_-]+/config$")
HA_SENSOR_KEYS = {
    "availability", "availability_mode", "availability_template", "availability_topic", "default_entity_id", "device",
    "device_class", "enabled_by_default", "encoding", "entity_category", "entity_picture", "expire_after",
    "force_update", "icon", "json_attributes_template", "json_attributes_topic", "last_reset_value_template", "name",
    "options", "origin", "payload_available", "payload_not_available", "platform", "qos", "state_class",
    "state_topic", "suggested_display_precision", "unique_id", "unit_of_measurement", "value_template",
}
HA_DEVICE_KEYS = {"configuration_url", "connections", "hw_version", "identifiers", "manufacturer", "model", "model_id",
                  "name", "serial_number", "suggested_area", "sw_version", "via_device"}
HA_ORIGIN_KEYS = {"name", "sw_version", "support_url"}


def window_forecast(model, rows: pd.DataFrame) -> np.ndarray:
    """`Forecaster.predict_windows` on the window that ends with the last of ``rows``."""
    window = rows[list(model.spec.features)].to_numpy(dtype="float64")[-model.spec.input_steps:]
    return model.predict_windows(window[None])[0]


def test_influx_lines_on_the_wire_are_the_forecast_of_predict_windows(broker, tiny_model, ett_small):
    sensor = "hall 2,floor=1"  # a space, a comma and an equals sign: all escaped in the tag
    rows = ett_small.iloc[:30]
    last_ts = pd.Timestamp(rows["date"].iloc[-1]).value  # UTC
    collector = Collector(broker.url, "forecasts/#", client_id="influx-collector")
    daemon = DaemonThread(tiny_model, broker.url, client_id="influx-daemon", output_format="influx")
    source = publisher(broker.url, "influx-sensor")

    def final(messages) -> bool:  # the forecast issued at the last reading (earlier ones may be superseded)
        return any(ts == last_ts + HOUR and tags["step"] == "1" for _, p, _ in messages for _, tags, _, ts in parse_payload(p))

    try:
        for i in range(len(rows)):
            source.publish(f"sensors/{sensor}/readings", good_payload(rows, i), qos=1)
        assert collector.wait_for(final, timeout=30)
    finally:
        source.stop()
        assert daemon.close() == 0
        collector.close()
    topic, payload, _ = next(m for m in collector.messages if final([m]))
    assert topic == f"forecasts/{sensor}"
    points = parse_payload(payload)
    expected = window_forecast(tiny_model, rows)  # (horizon, n_targets)
    horizon, targets = tiny_model.spec.horizon, list(tiny_model.spec.targets)
    assert len(points) == horizon * len(targets)
    for measurement, tags, fields, ts in points:
        step, target = int(tags["step"]), tags["target"]
        assert measurement == "forecast"
        identity = tiny_model.identity  # its hash is None while the session has not saved it
        named = {f"model_{key}": str(identity[key]) for key in ("hash", "version") if identity[key] is not None}
        assert tags == {"model": identity["name"], **named, "sensor": sensor, "step": str(step), "target": target}
        assert ts == last_ts + step * HOUR
        np.testing.assert_allclose(fields["value"], expected[step - 1, targets.index(target)], rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize(("args", "message"), [
    (["--output-format", "xml"], "'xml' is not one of 'json', 'influx'"),
    (["--client-id", "c", "--ha-discovery", "--output-format", "influx"], "it needs output_format='json'"),
    (["--client-id", "c", "--ha-discovery", "--publish", "forecasts/all"], "a publish topic with {sensor}"),
    (["--client-id", "c", "--ha-discovery", "a/+/b"], "`ha_discovery` must be a topic prefix"),
    (["--ha-discovery"], "--ha-discovery needs a fixed --client-id"),
])
def test_bad_output_options_are_one_line_and_exit_2(args, message, capsys, tmp_path):
    assert main(["serve", "--model", str(tmp_path / "none"), *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err



def test_output_options_come_from_the_toml_file_too(tmp_path, capsys):
    config = tmp_path / "forecaster.toml"
    config.write_text('[serve]\nclient-id = "c"\noutput-format = "influx"\nha-discovery = "homeassistant"\n')
    assert main(["--config", str(config), "serve", "--model", str(tmp_path / "none")]) == 2
    assert "`ha_discovery` reads the forecast topic as JSON" in capsys.readouterr().err


def check_ha_sensor_config(topic: str, payload: bytes) -> dict:
    """One retained discovery message against Home Assistant's documented schema for a sensor."""
    assert CONFIG_TOPIC.match(topic), topic
    config = json.loads(payload)
    assert isinstance(config, dict) and set(config) <= HA_SENSOR_KEYS, set(config) - HA_SENSOR_KEYS
    assert {"state_topic", "unique_id", "availability_topic", "json_attributes_topic", "device"} <= set(config)
    assert "availability" not in config  # must not be used together with availability_topic
    for key in ("state_topic", "unique_id", "availability_topic", "json_attributes_topic", "value_template",
                "payload_available", "payload_not_available", "name", "default_entity_id"):
        assert isinstance(config[key], str) and config[key], key
    assert re.fullmatch(r"sensor\.[a-z0-9_]+", config["default_entity_id"]) and config["qos"] in (0, 1, 2)
    device = config["device"]
    assert set(device) <= HA_DEVICE_KEYS and device["identifiers"]  # identifiers or connections are required
    assert set(config["origin"]) <= HA_ORIGIN_KEYS and config["origin"]["name"]
    return config


def next_step(config: dict, payload: bytes) -> float:
    """The state Home Assistant shows: the config's value_template applied to a forecast."""
    key = json.loads(re.fullmatch(r'\{\{ value_json\.forecast\[0\]\[(".*")\] \}\}', config["value_template"]).group(1))
    return json.loads(payload)["forecast"][0][key]


def configs_of(url: str, client_id: str, count: int) -> dict[str, bytes]:
    """The retained discovery configs a subscriber that comes now gets (what Home Assistant reads at start)."""
    late = Collector(url, "homeassistant/#", client_id=client_id)
    late.wait_for(lambda m: len(m) >= count, timeout=10)
    late.close()
    return {t: p for t, p, _ in late.messages}


def test_ha_discovery_configs_are_retained_valid_and_the_state_is_the_next_step(broker, tiny_model, ett_small):
    sensors, rows = ("t1", "hall 2"), ett_small.iloc[:30]
    collector = Collector(broker.url, "homeassistant/#", "forecasts/#", client_id="ha-collector")
    daemon = DaemonThread(tiny_model, broker.url, client_id="ha-daemon", ha_discovery="homeassistant", retain=True)
    source = publisher(broker.url, "ha-sensor")

    def finals(messages) -> dict[str, bytes]:
        return {t: p for t, p, _ in messages if t.startswith("forecasts/") and json.loads(p)["issued_at"] == LAST}

    try:
        for i in range(len(rows)):
            for sensor in sensors:
                source.publish(f"sensors/{sensor}/readings", good_payload(rows, i), qos=1)
        assert collector.wait_for(lambda m: len(finals(m)) == len(sensors), timeout=30)
        retained = configs_of(broker.url, "ha-late", len(sensors))
        assert retained_status(broker.url, "forecaster/ha-daemon/status") == b"online"
        broker.restart()  # no persistence: the retained configs are gone until the daemon reconnects
        deadline = time.monotonic() + 20
        while daemon.daemon.client.connects < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        republished = configs_of(broker.url, "ha-after-restart", len(sensors))
    finally:
        source.stop()
        assert daemon.close() == 0
        collector.close()
    assert retained_status(broker.url, "forecaster/ha-daemon/status") == b"offline"
    assert len(retained) == len(sensors) * len(tiny_model.spec.targets) and republished == retained
    expected = window_forecast(tiny_model, rows)
    for topic, payload in retained.items():
        config = check_ha_sensor_config(topic, payload)
        sensor = config["state_topic"].removeprefix("forecasts/")
        assert sensor in sensors and config["json_attributes_topic"] == config["state_topic"]
        assert config["availability_topic"] == "forecaster/ha-daemon/status"
        assert (config["payload_available"], config["payload_not_available"]) == ("online", "offline")
        assert config["device"]["name"] == f"{sensor} forecast" and config["name"] in tiny_model.spec.targets
        target = list(tiny_model.spec.targets).index(config["name"])
        forecast = finals(collector.messages)[config["state_topic"]]
        np.testing.assert_allclose(next_step(config, forecast), expected[0, target], rtol=1e-6, atol=1e-5)
        order = [t for t, _, _ in collector.messages]
        assert order.index(topic) < order.index(config["state_topic"])  # announced before its first state
