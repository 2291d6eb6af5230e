"""TLS with a real Mosquitto and a PKI made by `openssl` in the test: the daemon serves over
mqtts:// with a client certificate, and each kind of TLS failure (untrusted broker, wrong host
name, missing or foreign client certificate) is ONE clear ERROR line naming the broker and the
reason, counted by reason in /metrics, while the daemon stays up, not ready, and keeps retrying."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from helpers import wait_until
from mqtt_broker import Broker, Collector, TlsListener
from pki import make_pki
from serve_support import DaemonThread, forecasts, good_payload, http_get, publisher, scrape


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


def tls_broker(directory, pki, *, cert=None, require_certificate=True) -> Broker:
    cert = cert or pki.server
    listener = TlsListener(pki.ca, cert.cert, cert.key, require_certificate=require_certificate)
    return Broker(directory, tls=listener).start()



def test_the_daemon_serves_over_tls_with_a_client_certificate(tmp_path, pki, tiny_model, ett_small):
    broker = tls_broker(tmp_path / "b", pki)
    tls = {"ca_file": str(pki.ca), "cert_file": str(pki.client.cert), "key_file": str(pki.client.key)}
    daemon = DaemonThread(tiny_model, broker.tls_url, client_id="tls-daemon", tls=tls)  # waits for /readyz
    collector = Collector(broker.url, "forecasts/#")  # the test's own clients use the plain listener
    sensor = publisher(broker.url)
    try:
        rows = ett_small.iloc[:tiny_model.spec.input_steps + 2]
        for i in range(len(rows)):
            sensor.publish("sensors/t1/readings", good_payload(rows, i), qos=1)
        last = rows["date"].iloc[-1].strftime("%Y-%m-%dT%H:%M:%SZ")
        assert collector.wait_for(lambda m: any(f["issued_at"] == last for f in forecasts(collector, "t1")), timeout=30)
        got = next(f for f in forecasts(collector, "t1") if f["issued_at"] == last)
        want = tiny_model.predict(rows)  # the batch path on the same readings
        np.testing.assert_allclose([f["OT"] for f in got["forecast"]], want["OT"], rtol=0, atol=1e-5)
        client = daemon.daemon.client
        assert client.connects == 1  # the TLS listener speaks nothing else: connected means TLS
        assert sum(client.connect_failures.counts.values()) == 0
    finally:
        sensor.stop()
        collector.close()
        assert daemon.close() == 0
        broker.kill()


CASES = {  # name: (broker cert, require a client cert, the daemon's TLS settings, reason, words of the line)
    "wrong CA": ("server", True, {"ca_file": "other_ca", "client": "client"}, "tls_untrusted",
                 ["certificate is not trusted", "self-signed certificate in certificate chain", "--ca-file"]),
    "host name mismatch": ("wrong_name", True, {"ca_file": "ca", "client": "client"}, "tls_hostname",
                           ["not valid for this host", "mismatch", "127.0.0.1"]),
    "no client certificate": ("server", True, {"ca_file": "ca"}, "tls_cert_required",
                              ["requires a client certificate", "certificate required", "--cert-file"]),
    "foreign client certificate": ("server", True, {"ca_file": "ca", "client": "stranger"}, "tls_cert_rejected",
                                   ["rejected the client certificate", "unknown ca"]),
}


def daemon_tls(pki, spec: dict) -> dict:
    tls = {"ca_file": str(getattr(pki, spec["ca_file"]))}
    if "client" in spec:
        pair = getattr(pki, spec["client"])
        tls |= {"cert_file": str(pair.cert), "key_file": str(pair.key)}
    return tls


# paho 2.2 drops the socket of a failed handshake without closing it (garbage collection closes it)
@pytest.mark.filterwarnings("ignore:unclosed <ssl.SSLSocket:ResourceWarning")
@pytest.mark.parametrize("case", list(CASES))
def test_a_tls_failure_is_one_clear_error_line(case, tmp_path, pki, tiny_model, caplog):
    cert, required, spec, reason, words = CASES[case]
    broker = tls_broker(tmp_path / "b", pki, cert=getattr(pki, cert), require_certificate=required)
    caplog.set_level(logging.INFO)
    daemon = DaemonThread(tiny_model, broker.tls_url, client_id="tls-fail", tls=daemon_tls(pki, spec), ready=False)
    try:
        failures = daemon.daemon.client.connect_failures
        assert wait_until(lambda: failures.counts[reason] >= 2), failures.counts  # retried with backoff
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1, [r.getMessage() for r in errors]  # not one per attempt, no paho noise
        line = errors[0].getMessage()
        assert line.startswith(f"cannot connect to {broker.tls_url}: TLS: ") and f"[{reason}]" in line, line
        assert all(w in line for w in words), line
        assert http_get(f"http://127.0.0.1:{daemon.port}/readyz")[0] == 503
        assert http_get(f"http://127.0.0.1:{daemon.port}/healthz")[0] == 200 and daemon.thread.is_alive()
        metrics = scrape(daemon.port)
        assert metrics[("forecaster_connect_failures_total", (("reason", reason),))] >= 2
        assert sum(v for (name, _), v in metrics.items() if name == "forecaster_connect_failures_total") == failures.counts[reason]
    finally:
        assert daemon.close() == 0
        broker.kill()
