"""The daemon's configuration: one frozen, validated `ServeConfig`, built once by
``forecaster serve`` from flags, TOML and environment, and passed down."""

from __future__ import annotations

from dataclasses import dataclass

from forecaster.serve.formats import check_output_format
from forecaster.serve.mqtt_settings import MqttSettings
from forecaster.serve.store_url import check_store_url
from forecaster.serve.topics import check_template
from pipelines.conformal import level_key, parse_levels
from pipelines.errors import ForecasterError
from pipelines.payloads import ParseRules
from pipelines.readings import check_aggregate


def _check_qos(name: str, value: object) -> None:
    if value not in (0, 1, 2) or isinstance(value, bool):
        raise ForecasterError(f"`{name}` must be 0, 1 or 2. Received: {name}={value!r}")


@dataclass(frozen=True)
class ServeConfig:
    """Everything `forecaster serve` needs, validated.

    Args:
        bundle: the forecast bundle directory.
        mqtt: connection settings.
        subscribe: the readings' topic filter (its ``+`` level is the sensor id).
        publish: the forecast topic template, e.g. ``forecasts/{sensor}``.
        status_topic: retained ``online``/``offline``.
        qos_in, qos_out, retain: subscription QoS; forecasts' QoS and retain flag.
        metrics_host, metrics_port: where ``/metrics``, ``/healthz``, ``/readyz`` listen (None: off).
        state_file: the windows' snapshot, with a write-ahead journal of the readings since beside
            it (``<state_file>.journal.<n>``): QoS 1 readings are acknowledged once journalled,
            and restored after a stop or a crash (None: off; readings acknowledged once processed).
        state_interval: seconds between snapshots of the windows (the journal is cut then).
        max_sensors, queue_size, max_batch, max_payload, max_future_s: limits, see
            `ForecastService` and `ParseRules`.
        ignore_unknown, ts_field, mapping, arrival_time: the payload rules (`ParseRules`):
            unknown fields ignored (and counted) or rejected; the timestamp's path; the
            ``(feature, path)`` pairs of ``--map``; the receive time for messages without one.
        drain_timeout: seconds the worker gets to finish the queue at shutdown.
        publish_buffer: QoS 1/2 forecasts kept while the broker is away (the oldest dropped and
            counted beyond), sent in order on reconnect.
        runtime: ``keras`` (TensorFlow, XLA fast path) or ``tflite`` (the bundle's LiteRT
            export; no TensorFlow needed).
        threads: inference threads (0: the runtime's default, all cores).
        output_format: ``json`` (DESIGN 3.2) or ``influx`` (InfluxDB line protocol), see
            `forecaster.serve.formats`.
        ha_discovery: the Home Assistant discovery prefix (e.g. ``homeassistant``) under which
            each sensor's forecast of each target is announced as a sensor entity; None: off.
            Needs the json format and a publish topic with ``{sensor}``.
        aggregate: several readings of one sensor in one slot (``mean``, ``last``, ``first``,
            ``min``, ``max``, ``sum``, as `pipelines.readings.aggregate_slots` does for a CSV);
            None: the second is refused (counted as ``duplicate``).
        slot_grace: with ``aggregate``, seconds after a slot's end (daemon clock) when the slot
            is final if no reading of a later slot came first; None: one cadence step of the
            model; 0: only a later reading finalises (for replayed history).
        intervals: the prediction-interval levels each forecast step carries (``lo``/``hi``);
            the bundle must be calibrated at each (checked by ``forecaster serve``).
        live_scoring: score each forecast against the readings of its slots (live accuracy on
            ``/metrics``, anomaly flags); False saves its cost (measured: `benchmarks/live_scoring_cost.py`).
        metrics_per_sensor: the live accuracy metrics with a ``sensor`` label (small fleets only).
        anomaly_topic: where readings outside the interval of their forecast are published
            (``anomalies/{sensor}``, `forecaster.serve.anomalies`); None: off.
        watch: reload the bundle when its directory changes (SIGHUP reloads it in any case;
            `forecaster.serve.reload`); watch_interval: seconds between two looks at it.
        anomaly_level, anomaly_step: the interval level (one of ``intervals``) and the horizon
            step of the forecast a reading is checked against (1: the forecast of the previous slot).
        state_store: ``redis://HOST:PORT/DB``: the windows live in Redis, shared by replicas
            (`forecaster.serve.shared_service`); None: in this process (and ``state_file``).
        share_group: subscribe through ``$share/<share_group>/<subscribe>`` (MQTT 5 shared
            subscription: the broker hands each reading to one replica of the group).
        reorder_slots: with ``state_store``, how many slots late a reading may arrive and still
            land in its window (a missing slot is given up once a reading that many slots newer is held).

    Example:
        >>> from forecaster.serve.mqtt_settings import BrokerAddress
        >>> ServeConfig(bundle="b", mqtt=MqttSettings(broker=BrokerAddress.parse("mqtt://h"), client_id="c"),
        ...             status_topic="s", qos_out=3)
        Traceback (most recent call last):
        ...
        pipelines.errors.ForecasterError: `qos_out` must be 0, 1 or 2. Received: qos_out=3
    """

    bundle: str
    mqtt: MqttSettings
    status_topic: str
    subscribe: str = "sensors/+/readings"
    publish: str = "forecasts/{sensor}"
    qos_in: int = 1
    qos_out: int = 1
    retain: bool = False
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = None
    state_file: str | None = None
    state_interval: float = 60.0
    max_sensors: int = 10_000
    queue_size: int = 100_000
    publish_buffer: int = 10_000
    max_batch: int = 1024
    max_payload: int = 65_536
    max_future_s: float = 86_400.0
    ignore_unknown: bool = True
    ts_field: str | None = None
    mapping: tuple[tuple[str, str], ...] = ()
    arrival_time: bool = False
    drain_timeout: float = 5.0
    runtime: str = "keras"
    threads: int = 0
    output_format: str = "json"
    ha_discovery: str | None = None
    aggregate: str | None = None
    slot_grace: float | None = None
    intervals: tuple[float, ...] = ()
    live_scoring: bool = True
    metrics_per_sensor: bool = False
    anomaly_topic: str | None = None
    anomaly_level: float = 0.95
    anomaly_step: int = 1
    watch: bool = False
    watch_interval: float = 2.0
    state_store: str | None = None
    share_group: str | None = None
    reorder_slots: int = 3

    @property
    def subscription(self) -> str:
        """The topic filter the daemon subscribes to (``$share/GROUP/...`` with a share group)."""
        return f"$share/{self.share_group}/{self.subscribe}" if self.share_group else self.subscribe

    def __post_init__(self) -> None:
        check_aggregate(self.aggregate)
        object.__setattr__(self, "intervals", parse_levels(self.intervals))
        grace = self.slot_grace
        if grace is not None and (isinstance(grace, bool) or not isinstance(grace, int | float) or not grace >= 0
                                  or grace == float("inf")):
            raise ForecasterError(f"`slot_grace` must be a non-negative number of seconds. Received: slot_grace={grace!r}")
        for name in ("state_interval", "watch_interval"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < float("inf"):
                raise ForecasterError(f"`{name}` must be a positive number of seconds. Received: {name}={value!r}")
        if isinstance(self.threads, bool) or not isinstance(self.threads, int) or self.threads < 0:
            raise ForecasterError(f"`threads` must be a non-negative integer. Received: threads={self.threads!r}")
        if self.runtime not in ("keras", "tflite"):
            raise ForecasterError(f"`runtime` must be 'keras' or 'tflite'. Received: runtime={self.runtime!r}")
        _check_qos("qos_in", self.qos_in)
        _check_qos("qos_out", self.qos_out)
        check_template(self.publish)
        if self.anomaly_topic is not None:
            if not self.live_scoring:
                raise ForecasterError("anomaly flags need live scoring: drop --no-live-scoring or --anomaly-topic")
            self._check_anomalies()
        mapped = tuple(feature for feature, _ in self.mapping)  # the model's columns are checked in `parse_rules`
        ParseRules(subscription=self.subscribe, features=mapped or ("x",), ts_field=self.ts_field, mapping=self.mapping)
        if not self.status_topic or any(c in self.status_topic for c in "+#\0"):
            raise ForecasterError(f"`status_topic` must be a plain topic. Received: status_topic={self.status_topic!r}")
        if self.metrics_port is not None and not 0 <= self.metrics_port <= 65535:
            raise ForecasterError(f"`metrics_port` must be in [0, 65535]. Received: metrics_port={self.metrics_port}")
        check_output_format(self.output_format)
        if self.ha_discovery is not None:
            self._check_ha_discovery()
        if self.state_store is not None or self.share_group is not None:
            check_replicas(self)
        for name in ("max_sensors", "queue_size", "publish_buffer", "max_batch", "max_payload"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ForecasterError(f"`{name}` must be a positive integer. Received: {name}={value!r}")

    def _check_ha_discovery(self) -> None:
        prefix = self.ha_discovery
        if not isinstance(prefix, str) or not prefix.strip("/") or any(c in prefix for c in "+#\0") or prefix.startswith("$"):
            raise ForecasterError(f"`ha_discovery` must be a topic prefix such as 'homeassistant'. Received: ha_discovery={prefix!r}")
        if self.output_format != "json":
            raise ForecasterError("`ha_discovery` reads the forecast topic as JSON: it needs output_format='json'. "
                                  f"Received: output_format={self.output_format!r}")
        if "{sensor}" not in self.publish:
            raise ForecasterError("`ha_discovery` needs one forecast topic per sensor: a publish topic with {sensor}. "
                                  f"Received: publish={self.publish!r}")

    def _check_anomalies(self) -> None:
        check_template(self.anomaly_topic or "", "anomaly_topic")
        level = level_key(self.anomaly_level)
        served = [level_key(v) for v in self.intervals]
        if level not in served:
            raise ForecasterError(f"`anomaly_level` {level} must be one of the served interval levels "
                                  f"({', '.join(served) or 'none'}): add --interval {level}")
        step = self.anomaly_step
        if isinstance(step, bool) or not isinstance(step, int) or step < 1:
            raise ForecasterError(f"`anomaly_step` must be a positive integer. Received: anomaly_step={step!r}")


def check_replicas(config: ServeConfig) -> None:
    """The settings of replicas sharing their windows (``state_store``, ``share_group``)."""
    if config.state_store is None:
        raise ForecasterError("--share-group hands each reading of a sensor to one replica: the replicas need their "
                              "windows in a shared --state-store redis://HOST:PORT/DB")
    check_store_url(config.state_store)
    if config.state_file is not None:
        raise ForecasterError("--state-file keeps the windows of one process, --state-store those of replicas: "
                              "give one of them, not both")
    group = config.share_group
    if group is not None and (not isinstance(group, str) or not group or any(c in group for c in "/+#\0")):
        raise ForecasterError(f"`share_group` must be a name without '/', '+' or '#'. Received: share_group={group!r}")
    k = config.reorder_slots
    if isinstance(k, bool) or not isinstance(k, int) or k < 0:
        raise ForecasterError(f"`reorder_slots` must be a non-negative integer. Received: reorder_slots={k!r}")
    for flag, on in (("--aggregate", config.aggregate not in (None, "error")), ("--anomaly-topic", config.anomaly_topic)):
        if on:
            raise ForecasterError(f"{flag} keeps readings in one process; it cannot be combined with --state-store")
