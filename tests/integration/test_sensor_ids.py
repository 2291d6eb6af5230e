"""A sensor id holding a C1 control character (U+0085, NEXT LINE) is refused at the door, end to
end: Mosquitto drops any client that publishes to a topic holding one, so a forecast for it on
``forecasts/{sensor}`` would disconnect the daemon for every sensor, again at each reading."""

from __future__ import annotations

import json
import logging

from mqtt_broker import Collector
from serve_support import DaemonThread, forecasts, good_payload, publisher, scrape


def test_a_c1_control_character_sensor_id_is_rejected_and_the_others_are_served(broker, tiny_model, ett_small, caplog):
    caplog.set_level(logging.WARNING)
    # no `+` in the filter: the id comes from the payload's `sensor` field, as the topic cannot carry it
    daemon = DaemonThread(tiny_model, broker.url, client_id="c1-daemon", subscribe="site/readings")
    collector = Collector(broker.url, "forecasts/#")
    sensor = publisher(broker.url)
    rows = ett_small.iloc[:tiny_model.spec.input_steps + 2]  # a full window for each id, bad one included
    try:
        for i in range(len(rows)):
            for name in ("t1", "bad\u0085id", "t2"):
                sensor.publish("site/readings", good_payload(rows, i, sensor=name), qos=1)
        assert sensor.flush(10)
        last = rows["date"].iloc[-1].strftime("%Y-%m-%dT%H:%M:%SZ")
        served = lambda m: all(any(f["issued_at"] == last for f in forecasts(collector, s)) for s in ("t1", "t2"))  # noqa: E731
        assert collector.wait_for(served, timeout=30)
        metrics = scrape(daemon.port)
        assert metrics[("forecaster_messages_total", (("cause", "bad_sensor_id"), ("result", "rejected")))] == len(rows)
        assert metrics[("forecaster_messages_total", (("cause", "ok"), ("result", "accepted")))] == 2 * len(rows)
        assert "U+0085" in caplog.text  # logged (rate-limited) with the code point
        assert {t for t, _, _ in collector.messages} == {"forecasts/t1", "forecasts/t2"}
        assert all(json.loads(p)["sensor"] in ("t1", "t2") for _, p, _ in collector.messages)
        assert daemon.daemon.client.connects == 1 and daemon.daemon.client.connected.is_set()  # never dropped
    finally:
        sensor.stop()
        collector.close()
        assert daemon.close() == 0
