"""Stateless replicas: three `forecaster serve` processes behind `$share/`, windows in a real
redis-server (append-only file on), a real Mosquitto. A replayed stream gives the forecasts of
`forecaster predict`, each forecast slot exactly once, through a kill -9 and restart of one
replica; a Redis outage makes a replica not ready and acknowledges nothing until Redis is back."""

from __future__ import annotations

import logging
import threading
import time

import numpy as np
import pandas as pd
import pytest
from helpers import ETT_COLUMNS, wait_until
from mqtt_broker import Broker, Collector
from redis_server import RedisServer
from serve_support import DaemonThread, http_get, publisher, scrape, wait_ready

from benchmarks.replica_chaos import Replica, by_slot, check
from forecaster.cli import main
from pipelines.payloads import encode_reading, format_timestamp

pytestmark = pytest.mark.slow
L = 24  # the tiny model's input_steps


def stream_rows(ett_small: pd.DataFrame, n: int) -> dict[str, pd.DataFrame]:
    """Two sensors with different values (and times)."""
    return {"d1": ett_small.iloc[:n], "d2": ett_small.iloc[n : 2 * n]}


def received_by_slot(collector: Collector) -> dict[tuple[str, str], list[list[float]]]:
    return by_slot(collector.messages)


def check_forecasts(got: dict, rows: dict[str, pd.DataFrame], model) -> None:
    """Every slot from the first full window on forecast exactly once, equal to the model on the
    true window (1e-5)."""
    result = check(got, rows, model)
    assert result["missing"] == result["duplicates"] == result["wrong"] == 0, result
    stamps = {(s, format_timestamp(ts)) for s, frame in rows.items() for ts in frame["date"].iloc[L - 1 :]}
    assert set(got) == stamps


def test_three_replicas_through_a_kill_give_the_forecasts_of_predict_each_slot_once(
        tmp_path, tiny_bundle, tiny_model, ett_small):
    broker = Broker(tmp_path / "mosquitto").start()
    redis = RedisServer(tmp_path / "redis").start()
    collector = Collector(broker.url, "forecasts/#")
    replicas = [Replica(tiny_bundle, broker.url, redis.url, f"replica-{i}", tmp_path) for i in range(3)]
    sensors = publisher(broker.url)
    rows = stream_rows(ett_small, 240)
    restarted = threading.Thread(target=lambda: (replicas[1].kill(), replicas[1].start()))
    try:
        for replica in replicas:
            replica.start()
        for k in range(240):
            if k == 90:
                restarted.start()  # kill -9 mid-stream; the restart (~10 s) overlaps the stream
            for sensor, frame in rows.items():
                payload = encode_reading(frame["date"].iloc[k], ETT_COLUMNS, frame[ETT_COLUMNS].iloc[k].tolist())
                sensors.publish(f"sensors/{sensor}/readings", payload, qos=1)
            time.sleep(0.04)
        restarted.join(300)
        last = {(s, format_timestamp(f["date"].iloc[-1])) for s, f in rows.items()}
        assert collector.wait_for(lambda _m: last <= set(received_by_slot(collector)), timeout=120)
        time.sleep(1.0)  # anything published twice would have arrived by now
        check_forecasts(received_by_slot(collector), rows, tiny_model)
        for sensor, frame in rows.items():  # the last forecast is `forecaster predict` on the same CSV
            frame.to_csv(tmp_path / f"{sensor}.csv", index=False)
            assert main(["predict", "--model", str(tiny_bundle), "--data", str(tmp_path / f"{sensor}.csv"),
                         "--out", str(tmp_path / f"{sensor}-out.csv")]) == 0
            batch = pd.read_csv(tmp_path / f"{sensor}-out.csv")["OT"].to_numpy()
            np.testing.assert_allclose(received_by_slot(collector)[(sensor, format_timestamp(frame["date"].iloc[-1]))][0],
                                       batch, rtol=0, atol=1e-5)
        logs = "".join((tmp_path / f"replica-{i}.log").read_text() for i in range(3))
        assert "Traceback" not in logs and "ERROR" not in logs
        accepted = scrape(replicas[1].port)[("forecaster_messages_total", (("cause", "ok"), ("result", "accepted")))]
        assert accepted > 0  # the restarted replica took its share, including what waited in its session
    finally:
        for replica in replicas:
            replica.close()
        sensors.stop()
        collector.close()
        redis.kill()
        broker.kill()


def test_redis_down_means_not_ready_and_nothing_acknowledged_until_it_is_back(tmp_path, tiny_model, ett_small, caplog):
    caplog.set_level(logging.INFO, logger="forecaster")
    broker = Broker(tmp_path / "mosquitto").start()
    redis = RedisServer(tmp_path / "redis").start()
    collector = Collector(broker.url, "forecasts/#")
    daemon = DaemonThread(tiny_model, broker.url, client_id="replica-a", persistent=True, state_store=redis.url,
                          share_group="forecasters")
    acked: list = []
    delivery = daemon.daemon.service.delivery  # what sends the PUBACKs (the MQTT client's `ack`)
    ack = delivery.acknowledge
    delivery.acknowledge = lambda tokens: (acked.extend(tokens), ack(tokens))
    sensors = publisher(broker.url)
    rows = {"d1": ett_small.iloc[:120]}
    frame = rows["d1"]

    def send(k: int) -> None:
        payload = encode_reading(frame["date"].iloc[k], ETT_COLUMNS, frame[ETT_COLUMNS].iloc[k].tolist())
        sensors.publish("sensors/d1/readings", payload, qos=1)

    try:
        for k in range(60):
            send(k)
        assert wait_until(lambda: len(acked) == 60, timeout=30)
        redis.kill()
        assert wait_until(lambda: http_get(f"http://127.0.0.1:{daemon.port}/readyz")[0] == 503, timeout=10)
        for k in range(60, 120):
            send(k)
        time.sleep(3.0)
        assert len(acked) == 60, "a reading was acknowledged while Redis was down"
        assert http_get(f"http://127.0.0.1:{daemon.port}/readyz")[0] == 503
        redis.start()
        last = ("d1", format_timestamp(frame["date"].iloc[-1]))
        assert collector.wait_for(lambda _m: last in received_by_slot(collector), timeout=60)
        wait_ready(daemon.port, timeout=10)
        assert wait_until(lambda: len(acked) == 120, timeout=10)
        time.sleep(0.5)
        check_forecasts(received_by_slot(collector), rows, tiny_model)
        outage = [r for r in caplog.records if "cannot reach the state store" in r.getMessage()]
        back = [r for r in caplog.records if "answers again" in r.getMessage()]
        assert len(outage) == 1 and len(back) == 1, [r.getMessage() for r in outage + back]
        assert daemon.close() == 0
    finally:
        sensors.stop()
        collector.close()
        redis.kill()
        broker.kill()
