"""Hot reload against a real Mosquitto: a warm-started bundle written into the watched directory (or
announced by SIGHUP) is served from the next batch on, with its hash in every forecast after the
swap, without a gap (the windows are kept), equal to its batch forecasts; a corrupt bundle leaves
the served one serving and is counted."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from helpers import DATA, ROOT, wait_until
from mqtt_broker import Collector, free_port
from serve_support import DaemonThread, good_payload, publisher, scrape, wait_ready

import forecaster
from forecaster.bundle import MODEL_FILE, content_hash, write_meta
from forecaster.model import Forecaster
from pipelines import read_csv

pytestmark = pytest.mark.slow
TOPIC = "sensors/t1/readings"


@pytest.fixture(scope="module")
def readings():
    """Hours 2400-2699 of ETTh1: what the sensor sends."""
    return read_csv(DATA / "ETTh1.csv").iloc[2400:2700].reset_index(drop=True)


@pytest.fixture(scope="module")
def child(tiny_bundle):
    """A warm start of the tiny model on the next 1,200 hours (one epoch), in memory and saved."""
    frame = read_csv(DATA / "ETTh1.csv").iloc[1200:2400]
    return forecaster.train(frame, None, init_from=tiny_bundle, epochs=1)


def issued(collector: Collector) -> list[dict]:
    return [json.loads(p) for t, p, _ in collector.messages if t == "forecasts/t1"]


def expected(model: Forecaster, readings, k: int) -> np.ndarray:
    """The batch forecast of ``model`` after reading ``k`` (the library on the same readings)."""
    return model.predict(readings.iloc[:k + 1])["OT"].to_numpy()


def test_a_bundle_written_into_the_watched_directory_is_served_without_a_gap(broker, tiny_bundle, child, readings,
                                                                             tmp_path):
    live = shutil.copytree(tiny_bundle, tmp_path / "live")
    old = Forecaster.load(live)
    collector = Collector(broker.url, "forecasts/#")
    daemon = DaemonThread(old, broker.url, bundle=str(live), watch=True, watch_interval=0.2)
    sensor = publisher(broker.url)
    try:
        for k in range(30):  # one by one: readings of one batch make one forecast (the newest window)
            sensor.publish(TOPIC, good_payload(readings, k), 1)
            assert collector.wait_for(lambda m, n=k: len(issued(collector)) == max(0, n - 22), timeout=30)
        child.save(live)  # a new bundle written in place, while readings keep coming
        new_hash = content_hash(live)
        k = 30
        while k < 290 and not any(f["model"]["hash"] == new_hash for f in issued(collector)):
            sensor.publish(TOPIC, good_payload(readings, k), 1)
            k += 1
            collector.wait_for(lambda m, n=k: len(issued(collector)) == n - 23, timeout=10)
            time.sleep(0.05)
        for last in range(k, k + 3):
            sensor.publish(TOPIC, good_payload(readings, last), 1)
            assert collector.wait_for(lambda m, n=last + 1: len(issued(collector)) == n - 23, timeout=30)
        metrics = scrape(daemon.port)
    finally:
        sensor.stop()
        assert daemon.close() == 0
        collector.close()
    got = issued(collector)
    ends = [readings["date"].iloc[i].strftime("%Y-%m-%dT%H:%M:%SZ") for i in range(23, last + 1)]
    assert [f["issued_at"] for f in got] == ends  # a forecast after every reading from the 24th: no gap, no refill
    hashes = [f["model"]["hash"] for f in got]
    switch = hashes.index(new_hash)
    assert set(hashes[:switch]) == {old.identity["hash"]} and set(hashes[switch:]) == {new_hash}
    assert got[switch]["model"] == {"name": old.name, "version": 2, "hash": new_hash} and switch >= 7
    new = Forecaster.load(live)
    for i, forecast in enumerate(got):
        model = old if i < switch else new
        values = [step["OT"] for step in forecast["forecast"]]
        np.testing.assert_allclose(values, expected(model, readings, 23 + i), rtol=0, atol=1e-5)
    assert metrics[("forecaster_model_reloads_total", ())] == 1
    assert metrics[("forecaster_model_reload_failures_total", ())] == 0
    info = ("forecaster_model_info", (("hash", new_hash), ("name", old.name), ("version", "2")))
    assert metrics[info] == 1


def _forecast_at(collector: Collector, readings, k: int) -> dict | None:
    at = readings["date"].iloc[k].strftime("%Y-%m-%dT%H:%M:%SZ")
    return next((f for f in issued(collector) if f["issued_at"] == at), None)


def _install(source, live, *, truncate: bool = False, manifest: bool = False) -> None:
    """Copy a bundle's files over ``live``; ``truncate``: its weights cut in half; ``manifest``:
    and the manifest written again over the cut file (it verifies; Keras cannot load it)."""
    for path in sorted(source.iterdir()):
        shutil.copy2(path, live / path.name)
    if truncate:
        data = (live / MODEL_FILE).read_bytes()
        (live / MODEL_FILE).write_bytes(data[: len(data) // 2])
    if manifest:
        meta = json.loads((live / "bundle.json").read_text())
        write_meta(live, {k: v for k, v in meta.items() if k not in ("files", "versions", "schema_version")})


def test_sighup_reloads_and_a_corrupt_bundle_leaves_the_old_one_serving(broker, tiny_bundle, child, readings, tmp_path):
    live = shutil.copytree(tiny_bundle, tmp_path / "live")
    staged = child.save(tmp_path / "v2")
    old_hash, new_hash = content_hash(live), content_hash(staged)
    collector = Collector(broker.url, "forecasts/#")
    port = free_port()
    serve = subprocess.Popen(
        [sys.executable, "-m", "forecaster", "serve", "--model", str(live), "--broker", broker.url,
         "--client-id", "reload-serve", "--metrics-port", str(port)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    sensor = publisher(broker.url)

    def next_forecast(k: int) -> dict:
        sensor.publish(TOPIC, good_payload(readings, k), 1)
        assert collector.wait_for(lambda m: _forecast_at(collector, readings, k) is not None, timeout=30)
        return _forecast_at(collector, readings, k)

    def hup_until(name: str, count: int) -> None:
        serve.send_signal(signal.SIGHUP)
        assert wait_until(lambda: scrape(port).get((name, ())) == count, timeout=60), scrape(port)

    try:
        wait_ready(port, process=serve)
        for k in range(23):
            sensor.publish(TOPIC, good_payload(readings, k), 1)
        assert next_forecast(23)["model"]["hash"] == old_hash
        _install(staged, live, truncate=True)  # its manifest does not verify
        hup_until("forecaster_model_reload_failures_total", 1)
        assert next_forecast(24)["model"]["hash"] == old_hash
        _install(staged, live, truncate=True, manifest=True)  # verifies, but does not load
        hup_until("forecaster_model_reload_failures_total", 2)
        assert next_forecast(25)["model"]["hash"] == old_hash
        _install(staged, live)
        hup_until("forecaster_model_reloads_total", 1)
        after = next_forecast(26)  # the very next reading: the window was kept
        metrics = scrape(port)
    finally:
        sensor.stop()
        serve.send_signal(signal.SIGTERM)
        _, err = serve.communicate(timeout=60)
        collector.close()
    assert serve.returncode == 0, err
    name = json.loads((staged / "bundle.json").read_text())["name"]
    assert after["model"] == {"name": name, "version": 2, "hash": new_hash}
    np.testing.assert_allclose([s["OT"] for s in after["forecast"]], expected(Forecaster.load(live), readings, 26),
                               rtol=0, atol=1e-5)
    assert metrics[("forecaster_model_info", (("hash", new_hash), ("name", name), ("version", "2")))] == 1
    failures = [line for line in err.splitlines() if "reload (SIGHUP) of" in line and "failed" in line]
    assert len(failures) == 2 and all(f"still serving {name} version 1 (hash {old_hash})" in line for line in failures)
    assert "checksum mismatch for model.keras" in failures[0] and "cannot load model.keras" in failures[1]
    assert any(f"reloaded (SIGHUP): serving {name} version 2 (hash {new_hash})" in line for line in err.splitlines())
