"""A broker that is not there is one ERROR line per outage, not one per retry: refused before
the first connect, then connected when Mosquitto starts (an INFO line with the count), then one
more line when it dies (a real Mosquitto on a port of the test's own)."""

from __future__ import annotations

import logging

from helpers import wait_until
from mqtt_broker import Broker, free_port
from serve_support import DaemonThread, http_get, scrape


def error_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def test_connection_refused_is_one_line_per_outage(tmp_path, tiny_model, caplog):
    caplog.set_level(logging.INFO)
    broker = Broker(tmp_path / "b", port=free_port())  # not started yet: nothing listens
    daemon = DaemonThread(tiny_model, broker.url, client_id="outage", ready=False)
    client = daemon.daemon.client
    try:
        assert wait_until(lambda: client.connect_failures.counts["refused"] >= 2)
        lines = error_lines(caplog)
        assert len(lines) == 1 and lines[0].startswith(f"cannot connect to {broker.url}: connection refused"), lines
        assert "[refused]" in lines[0] and "(1 failed attempt so far)" in lines[0]
        assert http_get(f"http://127.0.0.1:{daemon.port}/readyz")[0] == 503

        broker.start()
        assert wait_until(lambda: http_get(f"http://127.0.0.1:{daemon.port}/readyz")[0] == 200)
        assert any(r.getMessage().startswith(f"connected to {broker.url} after ") for r in caplog.records)

        refused = client.connect_failures.counts["refused"]
        broker.kill()  # the second outage: a warning for the loss, one ERROR line for the refusals
        assert wait_until(lambda: client.connect_failures.counts["refused"] >= refused + 2)
        lines = error_lines(caplog)
        assert len(lines) == 2 and lines[1].startswith(f"cannot connect to {broker.url}: connection refused"), lines
        assert not any("Client is not connected" in r.getMessage() for r in caplog.records if r.levelno > logging.DEBUG)
        metrics = scrape(daemon.port)
        assert metrics[("forecaster_connect_failures_total", (("reason", "refused"),))] == client.connect_failures.counts["refused"]
        assert metrics[("forecaster_connect_failures_total", (("reason", "tls_untrusted"),))] == 0  # every label, at 0
    finally:
        assert daemon.close() == 0
        broker.kill()
