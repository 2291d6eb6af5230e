"""Home Assistant discovery configs (`forecaster.serve.discovery`), without a broker."""

from __future__ import annotations

import json
import re

import numpy as np

from forecaster.serve.discovery import Discovery, entity_config
from forecaster.serve.formats import forecast_payload

TOPIC_LEVEL = re.compile(r"^[a-zA-Z0-9_-]+$")  # HA: <object_id> characters
ENTITY_ID = re.compile(r"^sensor\.(?!_)(?!.*__)[a-z0-9_]+(?<!_)$")  # HA: valid entity ids
TEMPLATE = re.compile(r'^\{\{ value_json\.forecast\[0\]\[(".*")\] \}\}$')


class ListPublisher:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, int, bool]] = []

    def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> bool:
        self.sent.append((topic, payload, qos, retain))
        return True


def discovery(publisher=None, targets=("OT", "HUFL")) -> Discovery:
    return Discovery(publisher or ListPublisher(), prefix="homeassistant", client_id="gw 1", template="forecasts/{sensor}",
                     status_topic="forecaster/gw 1/status", model="etth1", targets=targets)


def state_of(config: dict, payload: bytes) -> float:
    """What the value_template selects (the only template form the configs use)."""
    key = json.loads(TEMPLATE.match(config["value_template"]).group(1))
    return json.loads(payload)["forecast"][0][key]


def test_configs_carry_what_home_assistant_needs_for_odd_ids():
    for sensor in ("t1", "hall 2,floor=1", "Küche", "t_1", "t 1"):
        for target in ("OT", 'O"T', "a.b"):
            config = entity_config(sensor, target, client_id="gw 1", state_topic=f"forecasts/{sensor}",
                                   status_topic="s", model="m")
            assert TOPIC_LEVEL.match(config["unique_id"]) and ENTITY_ID.match(config["default_entity_id"])
            assert config["state_topic"] == config["json_attributes_topic"] == f"forecasts/{sensor}"
            assert config["availability_topic"] == "s" and (config["payload_available"], config["payload_not_available"]) == ("online", "offline")
            assert config["device"]["identifiers"] and config["origin"]["name"] == "iot-forecaster"
            payload = forecast_payload(sensor, 3, np.array([[1.5, 2.5], [3.5, 4.5]]), step_ns=10**9, freq="1s", model="m",
                                       targets=[target, "other"])
            assert state_of(config, payload) == 1.5  # the next step of this target


def test_unique_ids_are_stable_and_distinct_where_slugs_collide():
    def uid(client: str, sensor: str, target: str) -> str:
        return entity_config(sensor, target, client_id=client, state_topic="x", status_topic="s", model="m")["unique_id"]

    assert uid("gw", "t 1", "OT") == uid("gw", "t 1", "OT")
    ids = {uid("gw", "t 1", "OT"), uid("gw", "t_1", "OT"), uid("gw", "t1", "OT"), uid("gw2", "t 1", "OT"), uid("gw", "t 1", "ot")}
    assert len(ids) == 5


def test_a_sensor_is_announced_once_retained_and_again_after_each_reconnect():
    publisher = ListPublisher()
    d = discovery(publisher)
    d.announce("t1")
    d.announce("t1")
    d.announce("t2")
    assert [t for t, *_ in publisher.sent] == [t for s in ("t1", "t2") for t, _ in d.configs(s)]
    assert len(publisher.sent) == 4 and all(qos == 1 and retain for _, _, qos, retain in publisher.sent)
    publisher.sent.clear()
    assert d.republish() == 2 and len(publisher.sent) == 4
    topics = [t for t, *_ in publisher.sent]
    assert all(t.startswith("homeassistant/sensor/") and t.endswith("/config") for t in topics) and len(set(topics)) == 4
