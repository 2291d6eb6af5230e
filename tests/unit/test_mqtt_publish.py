"""The publish bookkeeping of the MQTT client, without a broker."""

from __future__ import annotations

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import MQTTErrorCode

from forecaster.serve.mqtt_client import MqttClient
from forecaster.serve.mqtt_paho import settled as _settled
from forecaster.serve.mqtt_settings import BrokerAddress, MqttSettings
from pipelines.errors import ForecasterError


def test_a_message_queued_while_disconnected_is_read_by_its_flag_not_by_raising():
    info = mqtt.MQTTMessageInfo(7)
    info.rc = MQTTErrorCode.MQTT_ERR_NO_CONN
    with pytest.raises(RuntimeError):
        info.is_published()  # what wedged the old prune
    assert _settled(info) is False
    info._set_as_published()  # paho resent it after the reconnect and got the PUBACK
    assert _settled(info) is True


def test_publishing_while_never_connected_buffers_qos1_and_drops_qos0():
    settings = MqttSettings(broker=BrokerAddress.parse("mqtt://127.0.0.1:1"), client_id="offline")
    client = MqttClient(settings, buffer_size=2)
    assert client.publish("t", b"0", qos=0) is False
    assert [client.publish("t", str(i).encode(), qos=1) for i in range(3)] == [True, True, True]
    assert client.buffered == 2 and client.buffer_drops == 1


def test_buffer_size_must_be_positive():
    settings = MqttSettings(broker=BrokerAddress.parse("mqtt://127.0.0.1:1"), client_id="x")
    with pytest.raises(ForecasterError, match="`buffer_size` must be a positive integer"):
        MqttClient(settings, buffer_size=0)
