"""Connect failures in words: each error paho hands over gets a reason label and a sentence, and
`ConnectFailures` writes one ERROR line per outage and change of reason (no broker: the errors
are built as Python's ssl module and paho raise or log them)."""

from __future__ import annotations

import logging
import socket
import ssl

import pytest

from forecaster.serve.connect_errors import REASONS, ConnectFailures, diagnose


def ssl_error(code: str, text: str, verify: str | None = None) -> ssl.SSLError:
    kind = ssl.SSLCertVerificationError if verify else ssl.SSLError
    error = kind(1, f"[SSL: {code}] {text} (_ssl.c:1006)")
    error.reason = code
    if verify:
        error.verify_message = verify
    return error


@pytest.mark.parametrize("error, reason, words", [
    (ssl_error("CERTIFICATE_VERIFY_FAILED", "certificate verify failed: unable to get local issuer certificate",
               "unable to get local issuer certificate"), "tls_untrusted", ["not trusted", "local issuer", "--ca-file"]),
    (ssl_error("CERTIFICATE_VERIFY_FAILED", "certificate verify failed: Hostname mismatch, certificate is not valid "
               "for 'mqtt.local'.", "Hostname mismatch, certificate is not valid for 'mqtt.local'."),
     "tls_hostname", ["not valid for this host", "'mqtt.local')", "subjectAltName"]),
    (ssl_error("TLSV13_ALERT_CERTIFICATE_REQUIRED", "tlsv13 alert certificate required"), "tls_cert_required",
     ["requires a client certificate", "--cert-file"]),
    (ssl_error("SSLV3_ALERT_BAD_CERTIFICATE", "sslv3 alert bad certificate"), "tls_cert_rejected",
     ["rejected the client certificate", "bad certificate"]),
    (ssl_error("WRONG_VERSION_NUMBER", "wrong version number"), "tls_other", ["wrong version number", "TLS listener"]),
    (ConnectionRefusedError(111, "Connection refused"), "refused", ["connection refused"]),
    (socket.gaierror(-2, "Name or service not known"), "dns", ["Name or service not known"]),
    (TimeoutError("timed out"), "timeout", ["no answer in time"]),
    (ConnectionResetError(104, "Connection reset by peer"), "closed", ["hung up", "reset by peer", "mqtts://"]),
    (None, "closed", ["hung up before answering CONNECT"]),
    (OSError(113, "No route to host"), "network", ["OSError: No route to host"]),
])
def test_each_failure_gets_a_label_and_a_sentence(error, reason, words):
    label, text = diagnose(error)
    assert label == reason and label in REASONS
    assert all(w in text for w in words), text


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def fail(failures: ConnectFailures, error: BaseException | None = None, **kwargs) -> None:
    failures.attempt()
    failures.failed(error, **kwargs)


REFUSED = ConnectionRefusedError(111, "Connection refused")


def test_one_line_per_outage_and_per_change_of_reason_with_a_reminder(caplog):
    caplog.set_level(logging.INFO, logger="forecaster.serve.connect_errors")
    clock = Clock()
    failures = ConnectFailures("mqtts://b:8883", clock=clock, remind_every=600)
    for _ in range(5):
        fail(failures, REFUSED)
        clock.now += 30
    assert failures.logged == 1 and failures.counts["refused"] == 5
    fail(failures, ssl_error("TLSV13_ALERT_CERTIFICATE_REQUIRED", "tlsv13 alert certificate required"))
    assert failures.logged == 2 and "(6 failed attempts so far)" in caplog.records[-1].getMessage()
    clock.now += 600
    fail(failures, ssl_error("TLSV13_ALERT_CERTIFICATE_REQUIRED", "tlsv13 alert certificate required"))
    assert failures.logged == 3 and "still failing" in caplog.records[-1].getMessage()
    failures.attempt()
    failures.connected()
    assert caplog.records[-1].levelno == logging.INFO
    assert caplog.records[-1].getMessage() == "connected to mqtts://b:8883 after 7 failed attempts"
    fail(failures, REFUSED)  # a new outage: said again, counted from one
    assert failures.logged == 4 and "(1 failed attempt so far)" in caplog.records[-1].getMessage()
    assert [r.levelno for r in caplog.records] == [logging.ERROR] * 3 + [logging.INFO, logging.ERROR]


def test_an_attempt_counts_once_and_a_noted_error_is_its_cause():
    failures = ConnectFailures("mqtt://b:1883")
    failures.attempt()
    failures.noted(ssl_error("TLSV1_ALERT_UNKNOWN_CA", "tlsv1 alert unknown ca"))
    failures.failed()  # the disconnect before CONNACK: the alert paho logged is the cause
    failures.failed()
    assert failures.counts["tls_cert_rejected"] == 1 and sum(failures.counts.values()) == 1
    fail(failures, refusal="Not authorized")
    failures.failed()  # paho's disconnect after the refused CONNACK: the same attempt
    assert failures.counts["broker_refused"] == 1 and sum(failures.counts.values()) == 2


def test_paho_lines_about_a_failing_connect_go_to_debug_while_down(caplog):
    caplog.set_level(logging.DEBUG, logger="paho")
    failures = ConnectFailures("mqtt://b:1883")
    paho = failures.paho_logger(logging.getLogger("paho"))
    failures.attempt()
    paho.log(logging.ERROR, "Client is not connected. Socket: None). Last known Connection State: MQTT_CS_CONNECTING")
    alert = ssl_error("TLSV13_ALERT_CERTIFICATE_REQUIRED", "tlsv13 alert certificate required")
    paho.log(logging.ERROR, "failed to receive on socket: %s", alert)
    assert [r.levelno for r in caplog.records] == [logging.DEBUG, logging.DEBUG]
    failures.failed()
    assert failures.counts["tls_cert_required"] == 1
    failures.attempt()
    failures.connected()
    paho.log(logging.ERROR, "failed to receive on socket: %s", ConnectionResetError(104, "reset"))
    assert caplog.records[-1].levelno == logging.ERROR  # once connected, paho speaks for itself
