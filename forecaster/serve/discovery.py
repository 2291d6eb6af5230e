"""Home Assistant MQTT discovery (``--ha-discovery PREFIX``): each sensor's forecast of each
target appears in Home Assistant as a sensor entity, with no YAML on the Home Assistant side.

The forecast topic itself is the entity's state and attributes (no extra messages):

- ``state_topic`` = ``json_attributes_topic`` = the sensor's forecast topic (``forecasts/t1``);
- ``value_template`` ``{{ value_json.forecast[0]["OT"] }}``: the state is the next step;
- no ``json_attributes_template``: the attributes are the whole JSON payload (``issued_at``,
  ``model``, ``step`` and ``forecast``, the whole horizon with its times);
- ``availability_topic`` = the daemon's retained status topic (``online``; ``offline`` at
  shutdown and as the last will), with ``payload_available``/``payload_not_available``;
- ``unique_id``: readable parts of (client id, sensor, target) plus a hash of the exact
  three, so that it is stable across restarts and unique whatever the ids hold; it is also
  the ``<object_id>`` level of the config topic ``<prefix>/sensor/<unique_id>/config``
  (Home Assistant's advice for entities with a unique_id);
- ``default_entity_id`` ``sensor.<sensor>_<target>_forecast`` (``object_id`` is gone from
  Home Assistant since 2026.4), ``name`` the target, ``device`` one per sensor and daemon
  (``<sensor> forecast``), ``origin`` this program.

Configs are retained (QoS 1): published once per sensor just before its first forecast, and
again after every (re)connect, so Home Assistant finds them whenever it starts.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from collections.abc import Sequence

from forecaster import __version__
from forecaster.serve.interfaces import Publisher

log = logging.getLogger(__name__)
ORIGIN = {"name": "iot-forecaster", "sw_version": __version__}
# REQUIRED_KEYS: what these configs always carry (Home Assistant requires state_topic for a sensor,
# unique_id for a device, and one of identifiers/connections in the device).
REQUIRED_KEYS = ("state_topic", "unique_id", "availability_topic", "json_attributes_topic", "device")


def slug(text: str, lower: bool = False) -> str:
    """``text`` reduced to ``[A-Za-z0-9_]`` (runs of anything else become one ``_``).

    Example:
        >>> slug("hall 2,floor=1"), slug("Küche/OT", lower=True), slug("---")
        ('hall_2_floor_1', 'k_che_ot', 'x')
    """
    out = re.sub(r"[^A-Za-z0-9]+", "_", text.lower() if lower else text).strip("_")
    return out or "x"


def _digest(*parts: str) -> str:
    return hashlib.sha1(json.dumps(parts).encode()).hexdigest()[:8]


def entity_config(
    sensor: str, target: str, *, client_id: str, state_topic: str, status_topic: str, model: str, qos: int = 1,
) -> dict:
    """The discovery config of one (sensor, target) entity (see the module docstring).

    Example:
        >>> c = entity_config("t1", "OT", client_id="gw", state_topic="forecasts/t1", status_topic="gw/status", model="m")
        >>> c["unique_id"], c["value_template"], c["default_entity_id"], c["device"]["name"]
        ('gw_t1_OT_bbb481df', '{{ value_json.forecast[0]["OT"] }}', 'sensor.t1_ot_forecast', 't1 forecast')
    """
    return {
        "name": target,
        "unique_id": f"{slug(client_id)}_{slug(sensor)}_{slug(target)}_{_digest(client_id, sensor, target)}",
        "default_entity_id": f"sensor.{slug(sensor, lower=True)}_{slug(target, lower=True)}_forecast",
        "state_topic": state_topic,
        "value_template": f"{{{{ value_json.forecast[0][{json.dumps(target)}] }}}}",
        "json_attributes_topic": state_topic,
        "availability_topic": status_topic,
        "payload_available": "online",
        "payload_not_available": "offline",
        "state_class": "measurement",
        "qos": qos,
        "device": {
            "identifiers": [f"forecaster_{slug(client_id)}_{slug(sensor)}_{_digest(client_id, sensor)}"],
            "name": f"{sensor} forecast",
            "manufacturer": "iot-forecaster",
            "model": model,
            "sw_version": __version__,
        },
        "origin": ORIGIN,
    }


def config_topic(prefix: str, unique_id: str) -> str:
    """``<prefix>/sensor/<unique_id>/config``.

    Example:
        >>> config_topic("homeassistant/", "gw_t1_OT_bbb481df")
        'homeassistant/sensor/gw_t1_OT_bbb481df/config'
    """
    return f"{prefix.rstrip('/')}/sensor/{unique_id}/config"


class Discovery:
    """Announces sensors to Home Assistant through a publisher (thread-safe).

    Args:
        publisher: where the configs go (the daemon's MQTT client).
        prefix: Home Assistant's discovery prefix (``homeassistant``).
        client_id: the daemon's MQTT client id (part of every unique_id: fix it).
        template: the forecast topic template (``forecasts/{sensor}``).
        status_topic: the daemon's retained ``online``/``offline`` topic.
        model: the model name (the device's model).
        targets: the model's targets (one entity per sensor and target).
        qos: the QoS Home Assistant subscribes to the forecast topic with.
    """

    def __init__(
        self, publisher: Publisher, *, prefix: str, client_id: str, template: str, status_topic: str, model: str,
        targets: Sequence[str], qos: int = 1,
    ) -> None:
        self.publisher = publisher
        self.prefix, self.client_id, self.template = prefix, client_id, template
        self.status_topic, self.model, self.targets, self.qos = status_topic, model, list(targets), qos
        self._announced: dict[str, None] = {}  # insertion-ordered set of the sensors announced
        self._lock = threading.Lock()

    def configs(self, sensor: str) -> list[tuple[str, bytes]]:
        """``(config topic, JSON payload)`` of each of ``sensor``'s entities."""
        out = []
        for target in self.targets:
            config = entity_config(
                sensor, target, client_id=self.client_id, state_topic=self.template.replace("{sensor}", sensor),
                status_topic=self.status_topic, model=self.model, qos=self.qos,
            )
            out.append((config_topic(self.prefix, config["unique_id"]), json.dumps(config).encode()))
        return out

    def announce(self, sensor: str) -> None:
        """Publish ``sensor``'s configs the first time it is seen (before its first forecast)."""
        if sensor in self._announced:
            return
        with self._lock:
            if sensor in self._announced:
                return
            self._announced[sensor] = None
            self._publish(sensor)
        log.debug("announced %r to Home Assistant under %s", sensor, self.prefix)

    def republish(self) -> int:
        """Publish the configs of every sensor announced so far (after a reconnect); how many sensors."""
        with self._lock:
            sensors = list(self._announced)
        for sensor in sensors:
            self._publish(sensor)
        if sensors:
            log.info("re-announced %d sensor(s) to Home Assistant under %s", len(sensors), self.prefix)
        return len(sensors)

    def _publish(self, sensor: str) -> None:
        for topic, payload in self.configs(sensor):
            if not self.publisher.publish(topic, payload, 1, True):
                log.warning("Home Assistant discovery config %s dropped", topic)
