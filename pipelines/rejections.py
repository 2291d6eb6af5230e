"""Why a message was refused: the one list of causes, shared by the payload parser, the
daemon's service and its metrics.

A cause's value is the ``cause`` label of ``forecaster_messages_total`` on ``/metrics``;
dashboards and alerts select on these strings, so a value is never renamed.
"""

from __future__ import annotations

import enum


class Cause(str, enum.Enum):
    """A rejection cause; ``str(cause)`` is its label value.

    Example:
        >>> Cause("non_json"), str(Cause.NON_JSON), f"{Cause.OUT_OF_ORDER}"
        (<Cause.NON_JSON: 'non_json'>, 'non_json', 'out_of_order')
        >>> Cause.QUEUE_FULL == "queue_full"
        True
    """

    # the payload parser (pipelines.payloads.parse_message)
    OVERSIZED = "oversized"  # payload over max_bytes
    NON_JSON = "non_json"  # not UTF-8 JSON
    NOT_OBJECT = "not_object"  # JSON, but not an object
    BAD_TOPIC = "bad_topic"  # the topic does not match the subscription filter
    BAD_SENSOR_ID = "bad_sensor_id"  # unusable sensor id, or the field disagrees with the topic
    MISSING_FIELD = "missing_field"  # no ts, or no values
    BAD_TIMESTAMP = "bad_timestamp"  # ts is not ISO 8601 or epoch seconds
    FUTURE_TIMESTAMP = "future_timestamp"  # ts too far ahead of the clock
    WRONG_TYPE = "wrong_type"  # a value that is not a number (strings, booleans, null, lists)
    NON_FINITE = "non_finite"  # NaN or +-Infinity
    MISSING_FEATURE = "missing_feature"  # a feature the model needs is absent
    UNKNOWN_FEATURE = "unknown_feature"  # a field that is not a model column (typo guard)
    # the sensor's window (pipelines.stream.RollingWindow.push raises StaleReading; its kind)
    DUPLICATE = "duplicate"  # the same slot again (e.g. a QoS 1 redelivery)
    OUT_OF_ORDER = "out_of_order"  # a slot before the window's last one
    # the service (forecaster.serve.service)
    QUEUE_FULL = "queue_full"  # queue_size readings already wait for the worker
    SHUTDOWN = "shutdown"  # kept at 0 for dashboards: a message arriving at shutdown is now left
    # unacknowledged for the next session (forecaster_messages_deferred_total), never dropped
    WINDOW_ERROR = "window_error"  # any other refusal of the window

    def __str__(self) -> str:
        return self.value  # not 'Cause.NON_JSON': prometheus_client labels with str()

