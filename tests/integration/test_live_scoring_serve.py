"""Issue 21: the daemon scores its forecasts live and flags anomalies, through a real Mosquitto.

Readings replayed to the daemon produce forecasts; the live-error metrics equal the errors
computed here from the same forecasts and readings; a reading 10 standard deviations off is
flagged on the anomaly topic, and one equal to its forecast is not."""

from __future__ import annotations

import json

import numpy as np
import pytest
from mqtt_broker import Collector
from serve_support import DaemonThread, forecasts, good_payload, publisher, scrape

pytestmark = pytest.mark.slow

N = 40  # readings replayed: forecasts issued at rows 23..39


def metric(scraped: dict, name: str, **labels: str) -> float:
    return scraped.get((name, tuple(sorted({"target": "OT", **labels}.items()))), 0.0)


def offline(got: dict[str, dict], ot: np.ndarray, rows: dict[str, int], horizon: int) -> dict[str, np.ndarray]:
    """Counts and sums by step from the published forecasts and the readings of their slots."""
    out = {k: np.zeros(horizon) for k in ("count", "error", "naive", "hits")}
    for issued, forecast in got.items():
        i = rows[issued]
        for k, step in enumerate(forecast["forecast"]):
            if i + k + 1 < N:
                y = ot[i + k + 1]
                out["count"][k] += 1
                out["error"][k] += abs(step["OT"] - y)
                out["naive"][k] += abs(ot[i] - y)
                out["hits"][k] += step["lo"]["0.95"]["OT"] <= y <= step["hi"]["0.95"]["OT"]
    return out


def reading(frame, i: int, ot: float) -> bytes:
    body = json.loads(good_payload(frame, i))
    body["values"]["OT"] = ot
    return json.dumps(body).encode()


def test_live_errors_equal_the_offline_errors_and_anomalies_are_flagged(broker, tiny_model, ett_small):
    collector = Collector(broker.url, "forecasts/#", "anomalies/#")
    daemon = DaemonThread(tiny_model, broker.url, intervals=(0.95,), anomaly_topic="anomalies/{sensor}")
    sensor = publisher(broker.url)
    horizon = tiny_model.spec.horizon
    ot = ett_small["OT"].to_numpy(dtype=float)
    stamps = [t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in ett_small["date"]]
    rows = {stamps[i]: i for i in range(len(stamps))}
    try:
        for i in range(N):  # one reading at a time once windows are full: a forecast for each
            sensor.publish("sensors/x1/readings", good_payload(ett_small, i), qos=1)
            if i >= 23:
                assert collector.wait_for(lambda m, i=i: any(json.loads(p)["issued_at"] == stamps[i] for t, p, _ in m
                                                             if t == "forecasts/x1"), timeout=60)
        got = {f["issued_at"]: f for f in forecasts(collector, "x1")}
        want = offline(got, ot, rows, horizon)
        assert want["count"][0] >= 10
        scraped = scrape(daemon.port)
        for k in range(horizon):
            step = str(k + 1)
            assert metric(scraped, "forecaster_live_abs_error_count", step=step) == want["count"][k]
            assert metric(scraped, "forecaster_live_abs_error_sum", step=step) == pytest.approx(want["error"][k], abs=1e-6)
            assert metric(scraped, "forecaster_live_naive_abs_error_sum", step=step) == pytest.approx(want["naive"][k], abs=1e-6)
            assert metric(scraped, "forecaster_live_interval_hits_total", step=step, level="0.95") == want["hits"][k]
            assert metric(scraped, "forecaster_live_interval_scored_total", step=step, level="0.95") == want["count"][k]

        # a normal reading (its one-step forecast, exactly), then one 10 standard deviations off
        normal = got[stamps[N - 1]]["forecast"][0]["OT"]
        sensor.publish("sensors/x1/readings", reading(ett_small, N, normal), qos=1)
        assert collector.wait_for(lambda m: any(json.loads(p)["issued_at"] == stamps[N] for t, p, _ in m
                                                if t == "forecasts/x1"), timeout=30)
        step1 = next(f for f in forecasts(collector, "x1") if f["issued_at"] == stamps[N])["forecast"][0]
        far = step1["OT"] + 10 * float(np.std(ot))
        sensor.publish("sensors/x1/readings", reading(ett_small, N + 1, far), qos=1)
        assert collector.wait_for(lambda m: any(t == "anomalies/x1" and json.loads(p)["ts"] == stamps[N + 1]
                                                for t, p, _ in m), timeout=30)
        flags = [json.loads(p) for t, p, _ in collector.messages if t == "anomalies/x1"]
        assert not [f for f in flags if f["ts"] == stamps[N]]
        flag = next(f for f in flags if f["ts"] == stamps[N + 1])
        lo, hi = step1["lo"]["0.95"]["OT"], step1["hi"]["0.95"]["OT"]
        assert flag["reading"] == far and flag["forecast"] == step1["OT"] and (flag["lo"], flag["hi"]) == (lo, hi)
        assert flag["step"] == 1 and flag["level"] == "0.95" and flag["issued_at"] == stamps[N]
        assert flag["score"] == pytest.approx((far - hi) / (hi - lo))
        assert metric(scrape(daemon.port), "forecaster_anomalies_total") == len(flags)
    finally:
        sensor.stop()
        daemon.close()
        collector.close()


def test_serve_refuses_an_anomaly_level_it_does_not_serve(tiny_bundle, capsys):
    from forecaster.cli import main

    assert main(["serve", "--model", str(tiny_bundle), "--broker", "mqtt://127.0.0.1:1", "--interval", "0.8",
                 "--anomaly-topic", "anomalies/{sensor}"]) == 2
    assert capsys.readouterr().err == ("forecaster: error: `anomaly_level` 0.95 must be one of the served interval "
                                       "levels (0.8): add --interval 0.95\n")


def test_evaluate_lists_the_flags_offline(tiny_bundle, ett_small, tmp_path, capsys):
    """`evaluate --anomalies`: one row per test reading outside its one-step interval, as many
    as the evaluation's own coverage at step 1 leaves out, each with its score."""
    import pandas as pd

    from forecaster.cli import main

    data = tmp_path / "ett.csv"
    ett_small.to_csv(data, index=False)
    out = tmp_path / "flags.csv"
    assert main(["evaluate", "--model", str(tiny_bundle), "--data", str(data), "--json", str(tmp_path / "e.json"),
                 "--anomalies", str(out), "--anomaly-level", "0.8"]) == 0
    flags = pd.read_csv(out)
    scores = json.loads((tmp_path / "e.json").read_text())
    outside = (1 - scores["intervals"]["0.8"]["per_step"]["coverage"][0][0]) * scores["test_windows"]
    assert len(flags) == round(outside) > 0
    assert list(flags.columns) == ["sensor", "ts", "target", "reading", "forecast", "lo", "hi", "level", "step",
                                   "issued_at", "score"]
    assert ((flags["reading"] < flags["lo"]) | (flags["reading"] > flags["hi"])).all()
    assert set(flags["level"]) == {0.8} and set(flags["step"]) == {1}
    distance = np.maximum(flags["lo"] - flags["reading"], flags["reading"] - flags["hi"])
    np.testing.assert_allclose(flags["score"], distance / (flags["hi"] - flags["lo"]))
    assert f"{len(flags)} anomalies at level 0.8" in capsys.readouterr().out
    assert main(["evaluate", "--model", str(tiny_bundle), "--data", str(data), "--anomalies", str(out),
                 "--anomaly-level", "0.9"]) == 2
