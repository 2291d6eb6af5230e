"""`forecaster serve` and `forecaster replay` against a real Mosquitto (started per test).

Parity and SIGTERM run the daemon as a real process (`python -m forecaster serve`); the
fault, reconnect and persistent-session scenarios run a `Daemon` in a thread with the
already loaded tiny model, to keep the suite fast.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import DATA, ETT_COLUMNS, ROOT, STREAM_EQUALS_BATCH
from mqtt_broker import Collector, free_port
from serve_support import DaemonThread, forecasts, good_payload, publisher, retained_status, scrape, wait_ready

from forecaster.bundle import write_meta
from forecaster.cli import main
from pipelines import read_csv

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def replay_csv(tmp_path_factory) -> Path:
    """Two sensors with the awkward parts: a short gap, a long gap (reset), a missing cell."""
    lines = (DATA / "ett_two_transformers.csv").read_text().splitlines()
    h1 = lines[1:61]
    del h1[40:42]  # 2 missing hours: interpolated
    h2 = [line for line in lines if line.startswith("etth2,")][:85]
    del h2[20:25]  # 5 missing hours: longer than max_gap, the window resets
    cells = h2[50].split(",")
    cells[3] = ""  # one missing value: the row counts as missing
    h2[50] = ",".join(cells)
    path = tmp_path_factory.mktemp("replay") / "two.csv"
    path.write_text("\n".join([lines[0], *h1, *h2]) + "\n")
    return path


@pytest.fixture(scope="module")
def inputs_bundle(tmp_path_factory) -> Path:
    """A tiny model with per-sensor scaling and calendar inputs, trained on sensor etth1 only
    (so that etth2, replayed below, is a sensor it has no statistics of its own for)."""
    import forecaster
    from pipelines import WindowSpec

    frame = read_csv(DATA / "ett_two_transformers.csv", sensor_col="sensor")
    frame = frame[frame["sensor"] == "etth1"].iloc[:1200]
    spec = WindowSpec(input_steps=24, horizon=6, features=ETT_COLUMNS, targets=["OT"])
    model = forecaster.train(frame, spec, units=8, epochs=2, seed=1, scale="per-sensor", calendar="hour,dow")
    assert set(model.sensor_scalers_.scalers) == {"etth1"}
    return model.save(tmp_path_factory.mktemp("inputs") / "inputs")


@pytest.fixture(scope="module")
def independent_bundle(tmp_path_factory) -> Path:
    """The default design where every input column is a target: channel independent (automatic)
    and combined with the baselines (`combine="baselines"`, the default)."""
    import forecaster
    from forecaster.nn.combine import is_combined, network_of
    from pipelines import WindowSpec

    frame = read_csv(DATA / "ett_two_transformers.csv", sensor_col="sensor")
    frame = frame[frame["sensor"] == "etth1"].iloc[:1200]
    spec = WindowSpec(input_steps=24, horizon=6, features=ETT_COLUMNS, targets=ETT_COLUMNS)
    model = forecaster.train(frame, spec, units=8, epochs=2, seed=1)
    assert is_combined(model.model_)
    assert "channels_to_batch" in [layer.name for layer in network_of(model.model_).layers]
    return model.save(tmp_path_factory.mktemp("independent") / "independent")


@pytest.mark.parametrize("bundle", ["tiny_bundle", "inputs_bundle", "independent_bundle"])
def test_replayed_csv_gives_the_forecasts_of_predict_and_sigterm_is_clean(broker, bundle, replay_csv, tmp_path,
                                                                          request):
    """Stream = batch through a real broker, for the default model, for one with per-sensor
    scaling and calendar inputs (whose unseen sensor etth2 is scaled globally, counted, logged once)
    and for the default design with every column a target (channel independent, combined)."""
    inputs = bundle == "inputs_bundle"
    tiny_bundle = request.getfixturevalue(bundle)
    collector = Collector(broker.url, "forecasts/#")
    port = free_port()
    serve = subprocess.Popen(
        [sys.executable, "-m", "forecaster", "serve", "--model", str(tiny_bundle), "--broker", broker.url,
         "--client-id", "test-serve", "--metrics-port", str(port)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        wait_ready(port, process=serve)
        replay = subprocess.run(
            [sys.executable, "-m", "forecaster", "replay", "--data", str(replay_csv), "--broker", broker.url,
             "--topic", "sensors/{sensor}/readings"],
            cwd=ROOT, capture_output=True, text=True, timeout=120,
        )
        assert replay.returncode == 0, replay.stderr
        assert "published 137 readings" in replay.stdout and "1 rows with a missing value skipped" in replay.stdout
        last = {"etth1": "2016-07-03T11:00:00Z", "etth2": "2016-07-04T12:00:00Z"}
        done = collector.wait_for(
            lambda m: all(any(f["issued_at"] == t for f in map(json.loads, (p for tp, p, _ in m if tp == f"forecasts/{s}")))
                          for s, t in last.items()),
            timeout=60,
        )
        assert done, f"forecasts seen: {[(t, json.loads(p)['issued_at']) for t, p, _ in collector.messages][-4:]}"
        out = tmp_path / "predict.csv"
        assert main(["predict", "--model", str(tiny_bundle), "--data", str(replay_csv), "--out", str(out)]) == 0
        expected = pd.read_csv(out)
        for sensor, issued in last.items():
            got = next(f for f in forecasts(collector, sensor) if f["issued_at"] == issued)
            want = expected[expected["sensor"] == sensor]
            assert [f["ts"] for f in got["forecast"]] == want["ts"].tolist()
            targets = ETT_COLUMNS if bundle == "independent_bundle" else ["OT"]
            for target in targets:
                np.testing.assert_allclose([f[target] for f in got["forecast"]], want[target], **STREAM_EQUALS_BATCH)
        metrics = scrape(port)
        assert metrics[("forecaster_messages_total", (("cause", "ok"), ("result", "accepted")))] == 137
        assert metrics[("forecaster_mqtt_connected", ())] == 1
        assert metrics[("forecaster_sensors_tracked", ())] == 2
        assert metrics[("forecaster_sensors_unseen_scaling_total", ())] == (1 if inputs else 0)
        serve.send_signal(signal.SIGTERM)
        started = time.monotonic()
        assert serve.wait(15) == 0, serve.communicate()
        assert time.monotonic() - started < 10
        assert retained_status(broker.url, "forecaster/test-serve/status") == b"offline"
    finally:
        if serve.poll() is None:
            serve.kill()
        stderr = serve.communicate()[1]
        collector.close()
    unseen = [line for line in stderr.splitlines() if "not in the training data" in line]
    assert len(unseen) == (1 if inputs else 0) and (not inputs or "'etth2'" in unseen[0]), unseen


BAD_MESSAGES = {
    "oversized": ("sensors/x/readings", b'{"ts": 0, "pad": "' + b"x" * 3000 + b'"}'),
    "non_json": ("sensors/x/readings", b"\x00\x01 not json"),
    "not_object": ("sensors/x/readings", b'"a string"'),
    "bad_sensor_id": ("sensors/x/readings", b'{"ts": 0, "sensor": "a/b", "OT": 1}'),
    "missing_field": ("sensors/x/readings", b'{"values": {"OT": 1}}'),
    "bad_timestamp": ("sensors/x/readings", b'{"ts": "soon", "OT": 1}'),
    "future_timestamp": ("sensors/x/readings", b'{"ts": "2200-01-01T00:00:00Z", "OT": 1}'),
    "wrong_type": ("sensors/x/readings", b'{"ts": 0, "values": {"HUFL": "1 kW", "HULL": 1, "MUFL": 1, "MULL": 1, "LUFL": 1, "LULL": 1, "OT": 1}}'),
    "non_finite": ("sensors/x/readings", b'{"ts": 0, "values": {"HUFL": NaN, "HULL": 1, "MUFL": 1, "MULL": 1, "LUFL": 1, "LULL": 1, "OT": 1}}'),
    "missing_feature": ("sensors/x/readings", b'{"ts": 0, "values": {}}'),  # one absent feature is a missing value
    "unknown_feature": ("sensors/x/readings", b'{"ts": 0, "values": {"HUFL": 1, "HULL": 1, "MUFL": 1, "MULL": 1, "LUFL": 1, "LULL": 1, "OT": 1, "XX": 2}}'),
}


def test_faults_reconnect_and_topic_injection(broker, tiny_model, ett_small):
    everything = Collector(broker.url, "#", client_id="test-everything")
    daemon = DaemonThread(tiny_model, broker.url, max_payload=2048, ignore_unknown=False)  # --reject-unknown
    sensor = publisher(broker.url)
    try:
        for i in range(40):
            sensor.publish("sensors/g1/readings", good_payload(ett_small, i), qos=1)
            cause = sorted(BAD_MESSAGES)[i % len(BAD_MESSAGES)] if i < len(BAD_MESSAGES) else None
            if cause:
                sensor.publish(*BAD_MESSAGES[cause], qos=1)
            if i == 30:
                sensor.publish("sensors/g1/readings", good_payload(ett_small.assign(OT=-1.0), 30), qos=1)  # duplicate
                sensor.publish("sensors/g1/readings", good_payload(ett_small.assign(OT=-1.0), 20), qos=1)  # out of order
                sensor.publish("sensors/g1/readings", good_payload(ett_small, 30), qos=1)  # the same again:
                sensor.publish("sensors/g1/readings", good_payload(ett_small, 20), qos=1)  # redeliveries (in the window)
        for evil in ("a/b", "#", "+", "forecasts/x", "$SYS/x", "a\u0000b"):
            sensor.publish("sensors/g2/readings", good_payload(ett_small, 0, sensor=evil), qos=1)
            sensor.publish("sensors/+/readings".replace("+", "g2"), good_payload(ett_small, 0, sensor=evil), qos=1)
        assert sensor.flush(10)

        def issued(n: int):
            when = ett_small["date"].iloc[n].strftime("%Y-%m-%dT%H:%M:%SZ")
            return lambda m: any(json.loads(p)["issued_at"] == when for t, p, _ in m if t == "forecasts/g1")

        assert everything.wait_for(issued(39), timeout=30)
        # the g2 messages went out after g1's last reading: they may still be on their way
        deadline = time.monotonic() + 10
        while True:
            metrics = scrape(daemon.port)
            rejected = {dict(k[1])["cause"]: v for k, v in metrics.items()
                        if k[0] == "forecaster_messages_total" and dict(k[1])["result"] == "rejected"}
            if sum(rejected.values()) >= len(BAD_MESSAGES) + 12 + 2 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        for cause in BAD_MESSAGES:
            assert rejected[cause] >= 1, cause
        assert rejected["bad_sensor_id"] == 1 + 12 and rejected["duplicate"] == 1 and rejected["out_of_order"] == 1
        assert sum(rejected.values()) == len(BAD_MESSAGES) + 12 + 2
        assert metrics[("forecaster_messages_total", (("cause", "ok"), ("result", "accepted")))] == 40
        assert metrics[("forecaster_readings_redelivered_total", ())] == 2
        last = forecasts(everything, "g1")[-1]
        want = tiny_model.predict(ett_small.iloc[:40])
        np.testing.assert_allclose([f["OT"] for f in last["forecast"]], want["OT"], **STREAM_EQUALS_BATCH)

        broker.restart()  # killed mid-stream; same port
        deadline = time.monotonic() + 30
        while scrape(daemon.port).get(("forecaster_mqtt_connects_total", ()), 0) < 2:
            assert time.monotonic() < deadline, "the daemon did not reconnect"
            time.sleep(0.2)
        assert sensor.wait_connected(15) and everything.client.wait_connected(15)
        time.sleep(0.5)  # SUBACKs after the reconnect
        for i in range(40, 46):
            sensor.publish("sensors/g1/readings", good_payload(ett_small, i), qos=1)
        assert everything.wait_for(issued(45), timeout=30), "no forecasts after the broker restart"
        assert daemon.close() == 0
        topics = {t for t, _, _ in everything.messages}
        assert {t for t in topics if not t.startswith("sensors/")} <= {"forecasts/g1", "forecaster/test-daemon/status"}
        assert retained_status(broker.url, "forecaster/test-daemon/status") == b"offline"
    finally:
        if daemon.thread.is_alive():
            daemon.close()
        sensor.stop()
        everything.close()


def test_persistent_session_and_state_file_carry_over_a_restart(broker, tiny_model, ett_small, tmp_path):
    collector = Collector(broker.url, "forecasts/#")
    state = tmp_path / "windows.json"
    common = {"client_id": "test-persistent", "persistent": True, "state_file": str(state)}
    daemon = DaemonThread(tiny_model, broker.url, **common)
    sensor = publisher(broker.url)
    try:
        for i in range(24):
            sensor.publish("sensors/p1/readings", good_payload(ett_small, i), qos=1)
        assert collector.wait_for(lambda m: len(m) >= 1, timeout=30)
        assert daemon.close() == 0 and state.is_file()
        for i in range(24, 30):  # sent while the daemon is away: the broker keeps them
            sensor.publish("sensors/p1/readings", good_payload(ett_small, i), qos=1)
        assert sensor.flush(10)
        daemon = DaemonThread(tiny_model, broker.url, **common)
        want = ett_small["date"].iloc[29].strftime("%Y-%m-%dT%H:%M:%SZ")
        assert collector.wait_for(lambda m: any(json.loads(p)["issued_at"] == want for _, p, _ in m), timeout=30)
        assert daemon.close() == 0
    finally:
        if daemon.thread.is_alive():
            daemon.close()
        sensor.stop()
        collector.close()


def test_serve_refuses_a_backfill_bundle_before_loading_tensorflow(tiny_bundle, tmp_path):
    bundle = tmp_path / "backfill"
    bundle.mkdir()
    for f in tiny_bundle.iterdir():
        (bundle / f.name).write_bytes(f.read_bytes())
    meta = json.loads((bundle / "bundle.json").read_text())
    meta["kind"] = "backfill"
    write_meta(bundle, meta)  # a consistent bundle of the other kind (manifest included)
    code = ("import sys; from forecaster.cli import main; "
            f"rc = main(['serve', '--model', {str(bundle)!r}, '--broker', 'mqtt://127.0.0.1:1']); "
            "print(rc, 'tensorflow' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120,
                            env={**os.environ})
    assert result.stdout.split() == ["2", "False"]
    assert result.stderr.count("\n") == 1 and "backfill bundle cannot serve forecasts" in result.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["--broker", "http://h"], "mqtt://HOST:PORT"),
    (["--broker", "mqtt://u:p@h"], "must not hold credentials"),
    (["--password", "secret"], "do not pass --password on the command line"),
    (["--persistent-session"], "needs a fixed --client-id"),
    (["--publish", "forecasts/#"], "`publish` must be a topic"),
    (["--subscribe", "a/+/+"], "at most one '+'"),
    (["--tls-insecure"], "need an mqtts:// broker"),
])
def test_serve_usage_errors_are_one_line(tiny_bundle, args, message, capsys):
    assert main(["serve", "--model", str(tiny_bundle), *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_password_from_environment_or_file_reaches_the_broker_settings(tmp_path, monkeypatch, capsys):
    # a wrong-scheme broker stops the command right after the password was resolved
    (tmp_path / "pw").write_text("s3cret\n")
    monkeypatch.setenv("FORECASTER_REPLAY_PASSWORD", "x")
    assert main(["replay", "--data", str(DATA / "ETTh1.csv"), "--password-file", str(tmp_path / "pw")]) == 2
    assert "not both" in capsys.readouterr().err
    monkeypatch.delenv("FORECASTER_REPLAY_PASSWORD")
    assert main(["replay", "--data", str(DATA / "ETTh1.csv"), "--password-file", str(tmp_path / "pw")]) == 2
    assert "a password needs a `username`" in capsys.readouterr().err


def test_replay_refuses_sensor_ids_unfit_for_topics(tmp_path, capsys):
    path = tmp_path / "evil.csv"
    path.write_text("sensor,ts,OT\na/b,2026-01-01T00:00:00Z,1\n")
    assert main(["replay", "--data", str(path), "--broker", "mqtt://127.0.0.1:1"]) == 2
    assert "cannot publish sensor 'a/b'" in capsys.readouterr().err


def test_replay_csv_timestamps_and_values_survive_the_wire(broker, tmp_path):
    frame = read_csv(DATA / "ETTh1.csv").iloc[:50]
    collector = Collector(broker.url, "sensors/#")
    path = tmp_path / "one.csv"
    frame.assign(date=frame["date"].dt.strftime("%Y-%m-%d %H:%M:%S")).to_csv(path, index=False)
    assert main(["replay", "--data", str(path), "--broker", broker.url, "--sensor", "t9", "--rate", "500"]) == 0
    assert collector.wait_for(lambda m: len(m) == 50, timeout=20)
    collector.close()
    first = json.loads(collector.messages[0][1])
    assert collector.messages[0][0] == "sensors/t9/readings" and first["ts"] == "2016-07-01T00:00:00Z"
    got = np.array([[json.loads(p)["values"][c] for c in ETT_COLUMNS] for _, p, _ in collector.messages])
    assert np.array_equal(got, read_csv(path)[ETT_COLUMNS].to_numpy())


@pytest.mark.parametrize("command", ["serve", "replay", "parse"])
def test_mqtt_commands_help_has_an_example_and_does_not_load_tensorflow(command):
    code = ("import sys; from forecaster.cli import main; "
            f"rc = main([{command!r}, '--help']); print('TF', 'tensorflow' in sys.modules, rc)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert "Example" in result.stdout and "--password " not in result.stdout  # the password flag is hidden
    assert result.stdout.strip().endswith("TF False 0")
