"""`forecaster replay`: publish a CSV as live readings, in time order, optionally paced.

Rows with a missing value are skipped (the batch path treats them as missing slots too,
so a replay and `forecaster predict` see the same series). Floats are written with
Python's shortest round-trip repr, so the daemon receives exactly the CSV's values.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecaster.serve.mqtt_client import MqttClient
from forecaster.serve.mqtt_settings import MqttSettings
from pipelines.columns import SINGLE_SENSOR, name_list
from pipelines.errors import ForecasterError
from pipelines.payloads import check_sensor_id, encode_reading

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReplayConfig:
    """What to publish, where, and how fast.

    Args:
        mqtt: connection settings.
        topic: the reading topic template, e.g. ``sensors/{sensor}/readings``; without
            ``{sensor}`` the id goes into a ``sensor`` field of each payload.
        sensor: the id of a single-series file (no sensor column).
        columns: the value columns to send (None: all).
        rate: messages per second (None: as fast as possible).
        speed: a multiple of real time from the timestamps (None: as fast as possible).
        qos, retain: for each reading.

    Example:
        >>> from forecaster.serve.mqtt_settings import BrokerAddress
        >>> ReplayConfig(mqtt=MqttSettings(broker=BrokerAddress.parse("mqtt://h"), client_id="c"), rate=10, speed=2)
        Traceback (most recent call last):
        ...
        pipelines.errors.ForecasterError: give --rate or --speed, not both
    """

    mqtt: MqttSettings
    topic: str = "sensors/{sensor}/readings"
    sensor: str = SINGLE_SENSOR
    columns: tuple[str, ...] | None = None
    rate: float | None = None
    speed: float | None = None
    qos: int = 1
    retain: bool = False

    def __post_init__(self) -> None:
        if self.rate is not None and self.speed is not None:
            raise ForecasterError("give --rate or --speed, not both")
        for name in ("rate", "speed"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ForecasterError(f"`{name}` must be positive. Received: {name}={value!r}")
        if self.qos not in (0, 1, 2):
            raise ForecasterError(f"`qos` must be 0, 1 or 2. Received: qos={self.qos!r}")
        rest = self.topic.replace("{sensor}", "", 1)
        if not self.topic or any(c in rest for c in "+#{}\0"):
            raise ForecasterError(f"`topic` must be a topic with an optional {{sensor}}. Received: topic={self.topic!r}")
        problem = check_sensor_id(self.sensor)
        if problem:
            raise ForecasterError(f"`sensor`: {problem}")


def messages(
    frame: pd.DataFrame, *, topic: str, sensor: str = SINGLE_SENSOR, columns: Sequence[str] | None = None
) -> tuple[list[tuple[pd.Timestamp, str, bytes]], int]:
    """The messages of a CSV frame in time order, and how many incomplete rows were skipped.

    Args:
        frame: from `pipelines.read_csv` (attrs name the time and sensor columns).
        topic: the topic template.
        sensor: the id of a single-series frame.
        columns: the value columns to send (None: all).

    Raises:
        ForecasterError: an unknown column, or a sensor id unfit for a topic.

    Example:
        >>> frame = pd.DataFrame({"ts": pd.to_datetime([0, 3600], unit="s", utc=True), "OT": [1.5, None]})
        >>> frame.attrs.update(time_col="ts", sensor_col=None)
        >>> msgs, skipped = messages(frame, topic="sensors/{sensor}/readings", sensor="t1")
        >>> [(topic, payload) for _, topic, payload in msgs], skipped
        ([('sensors/t1/readings', b'{"ts": "1970-01-01T00:00:00Z", "values": {"OT": 1.5}}')], 1)
    """
    time_col, sensor_col = frame.attrs["time_col"], frame.attrs.get("sensor_col")
    value_cols = [c for c in frame.columns if c not in (time_col, sensor_col)]
    if columns is not None:
        unknown = [c for c in columns if c not in value_cols]
        if unknown:
            raise ForecasterError(f"no column(s) {name_list(unknown)}; value columns are {name_list(value_cols)}")
        value_cols = list(columns)
    sensors = frame[sensor_col].astype(str).to_numpy() if sensor_col else np.full(len(frame), sensor)
    for sid in pd.unique(sensors):
        problem = check_sensor_id(sid)
        if problem:
            raise ForecasterError(f"cannot publish sensor {sid!r}: {problem}")
    values = frame[value_cols].to_numpy(dtype="float64")
    complete = np.isfinite(values).all(axis=1)
    times = pd.DatetimeIndex(pd.to_datetime(frame[time_col], utc=True)).as_unit("ns")
    order = np.argsort(times.asi8, kind="stable")
    in_payload = "{sensor}" not in topic
    out = []
    for i in order:
        if not complete[i]:
            continue
        payload = encode_reading(times[i], value_cols, values[i])
        if in_payload:
            payload = payload[:-1] + b', "sensor": ' + _json_str(sensors[i]) + b"}"
        out.append((times[i], topic.replace("{sensor}", sensors[i]), payload))
    return out, int((~complete).sum())


def _json_str(text: str) -> bytes:
    return json.dumps(text).encode()


def schedule(msgs: Sequence[tuple[pd.Timestamp, str, bytes]], *, rate: float | None, speed: float | None) -> Iterator[tuple[float, str, bytes]]:
    """``(seconds after the start, topic, payload)`` for each message.

    Example:
        >>> t = pd.to_datetime([0, 10, 30], unit="s", utc=True)
        >>> [s for s, _, _ in schedule([(x, "t", b"") for x in t], rate=None, speed=10.0)]
        [0.0, 1.0, 3.0]
    """
    if not msgs:
        return
    first = msgs[0][0].value
    for k, (ts, topic, payload) in enumerate(msgs):
        if rate is not None:
            at = k / rate
        elif speed is not None:
            at = (ts.value - first) / 1e9 / speed
        else:
            at = 0.0
        yield at, topic, payload


class Progress:
    """Calls ``report(sent, total, ts)`` at every tenth of the messages and at least every
    ``every`` seconds in between (``ts``: the time of the last reading sent).

    Example:
        >>> seen = []
        >>> tick = Progress(lambda sent, total, ts: seen.append(sent), total=25, every=3600.0)
        >>> for k in range(1, 26):
        ...     tick(k, None)
        >>> seen
        [3, 5, 8, 10, 13, 15, 18, 20, 23, 25]
    """

    def __init__(self, report: Callable[[int, int, pd.Timestamp], None], *, total: int, every: float = 10.0) -> None:
        self.report, self.total, self.every = report, total, every
        self._tenth, self._last = 1, time.monotonic()

    def __call__(self, sent: int, ts: pd.Timestamp) -> None:
        now = time.monotonic()
        if sent * 10 >= self._tenth * self.total or now - self._last >= self.every:
            self._tenth, self._last = sent * 10 // self.total + 1, now
            self.report(sent, self.total, ts)


def run_replay(
    config: ReplayConfig, frame: pd.DataFrame, *, connect_timeout: float = 10.0,
    progress: Callable[[int, int, pd.Timestamp], None] | None = None,
) -> tuple[int, int]:
    """Publish a frame's readings; returns ``(messages published, incomplete rows skipped)``.

    Args:
        progress: called with ``(sent, total, time of the last reading sent)`` at every 10 %
            and at least every 10 seconds (see `Progress`).

    Raises:
        ForecasterError: the broker is unreachable, or not every QoS > 0 message was acknowledged.
    """
    msgs, skipped = messages(frame, topic=config.topic, sensor=config.sensor, columns=config.columns)
    tick = Progress(progress, total=len(msgs)) if progress is not None else None
    client = MqttClient(config.mqtt)
    client.start()
    try:
        if not client.wait_connected(connect_timeout):
            raise ForecasterError(f"cannot reach the broker {config.mqtt.broker} within {connect_timeout:g} s")
        started = time.monotonic()
        for k, (at, topic, payload) in enumerate(schedule(msgs, rate=config.rate, speed=config.speed), 1):
            delay = started + at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if not client.publish(topic, payload, config.qos, config.retain):
                raise ForecasterError(f"lost the connection to {config.mqtt.broker} while publishing (QoS 0)")
            if tick is not None:
                tick(k, msgs[k - 1][0])
        if not client.flush(max(30.0, len(msgs) / 1000)):
            raise ForecasterError(f"the broker did not acknowledge every reading within the time limit ({config.mqtt.broker})")
    finally:
        client.stop()
    return len(msgs), skipped
