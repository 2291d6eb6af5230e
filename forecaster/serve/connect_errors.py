"""Why the broker connection fails, said once: `ConnectFailures` turns paho's connect errors
into one ERROR line per outage (and per change of reason), with a reason label and a count.

paho 2.x reports a failed connect in three places, none of them one clear line: an
exception caught around ``reconnect()`` (TCP refused, DNS, the broker's certificate or host
name) that only ``on_connect_fail`` sees, from inside the ``except`` block; a TLS alert read
after the handshake (the broker wants a client certificate, or rejects ours), logged as
``failed to receive on socket: ...``; and a CONNACK refusal (``on_connect``). Meanwhile it logs
``Client is not connected ... MQTT_CS_CONNECTING`` at ERROR on every retry. `PahoLog` is the
logger paho gets: it hands those lines to `ConnectFailures` and lowers them to DEBUG while the
client is not connected (no paho internals are patched). No paho import here.
"""

from __future__ import annotations

import logging
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

REMIND_EVERY = 600.0  # seconds between two lines about the same unbroken failure
REASONS = (  # the `reason` label of forecaster_connect_failures_total: a small fixed set
    "refused", "dns", "timeout", "network", "closed", "broker_refused",
    "tls_untrusted", "tls_hostname", "tls_cert_required", "tls_cert_rejected", "tls_other",
)
_SSL_TEXT = re.compile(r"\[SSL(?:: ([A-Z0-9_]+))?\]\s*(.*?)\s*\(_ssl\.c:\d+\)")  # [SSL: CODE] text (_ssl.c:N)
_CLIENT_CERT_ALERTS = ("UNKNOWN_CA", "BAD_CERTIFICATE", "CERTIFICATE_UNKNOWN", "UNSUPPORTED_CERTIFICATE",
                       "CERTIFICATE_EXPIRED", "CERTIFICATE_REVOKED", "ACCESS_DENIED", "DECRYPT_ERROR")


def diagnose(error: BaseException | None) -> tuple[str, str]:
    """``(reason label, one readable sentence)`` for a failed connect; None: the broker
    closed the connection without a word.

    Example:
        >>> diagnose(ConnectionRefusedError(111, "Connection refused"))[0]
        'refused'
        >>> diagnose(ssl.SSLError(1, "[SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED] tlsv13 alert certificate required (_ssl.c:2580)"))
        ('tls_cert_required', 'TLS: the broker requires a client certificate (tlsv13 alert certificate required); set --cert-file and --key-file')
    """
    if error is None or isinstance(error, (ConnectionResetError, BrokenPipeError)):
        said = f" ({type(error).__name__}: {error.strerror})" if error is not None else ""
        return "closed", (f"the broker hung up before answering CONNECT{said}; mqtt:// for a TLS port, or mqtts:// "
                          "for a plain one?")
    if isinstance(error, ssl.SSLError):
        return _diagnose_tls(error)
    if isinstance(error, ConnectionRefusedError):
        return "refused", "connection refused (is the broker running and listening on that port?)"
    if isinstance(error, socket.gaierror):
        return "dns", f"cannot resolve the host name ({error.strerror or error})"
    if isinstance(error, TimeoutError):
        return "timeout", "no answer in time (a firewall, or a wrong host or port?)"
    return "network", f"{type(error).__name__}: {getattr(error, 'strerror', None) or error}"


def _diagnose_tls(error: ssl.SSLError) -> tuple[str, str]:
    match = _SSL_TEXT.search(str(error))
    code = str(getattr(error, "reason", None) or (match and match.group(1)) or "")
    detail = (getattr(error, "verify_message", None) or (match.group(2) if match else str(error))).rstrip(".")
    if isinstance(error, ssl.SSLCertVerificationError) or code == "CERTIFICATE_VERIFY_FAILED":
        if "mismatch" in detail or "doesn't match" in detail:  # OpenSSL's check, or ssl.match_hostname's
            return "tls_hostname", (f"TLS: the broker's certificate is not valid for this host ({detail}); "
                                    "use a host name or address its subjectAltName lists")
        return "tls_untrusted", f"TLS: the broker's certificate is not trusted ({detail}); check --ca-file"
    if code.endswith("CERTIFICATE_REQUIRED"):
        return "tls_cert_required", f"TLS: the broker requires a client certificate ({detail}); set --cert-file and --key-file"
    if "ALERT" in code and code.endswith(_CLIENT_CERT_ALERTS):
        return "tls_cert_rejected", (f"TLS: the broker rejected the client certificate ({detail}); check --cert-file "
                                     "and --key-file against the CA the broker trusts")
    hint = "; is that port a TLS listener?" if code == "WRONG_VERSION_NUMBER" else ""
    return "tls_other", f"TLS: {detail}{hint}"


class ConnectFailures:
    """Counts failed connects by reason and logs them: the first failure of an outage, a
    change of reason and a reminder every `REMIND_EVERY` seconds (ERROR), the recovery (INFO).

    Call `attempt` before each connect, `failed` when one fails (at most once per attempt
    counts), `connected` when the broker accepts. Thread-safe.

    Example:
        >>> failures = ConnectFailures("mqtt://h:1883", clock=lambda: 0.0)
        >>> for _ in range(3):
        ...     failures.attempt(); failures.failed(ConnectionRefusedError(111, "Connection refused"))
        >>> failures.counts["refused"], failures.logged
        (3, 1)
    """

    def __init__(self, broker: str, *, clock: Callable[[], float] = time.monotonic,
                 remind_every: float = REMIND_EVERY) -> None:
        self.broker = broker
        self.counts = dict.fromkeys(REASONS, 0)  # every label exists from the start (no resize while scraped)
        self.up = False
        self.logged = 0  # ERROR lines written (tests)
        self._clock = clock
        self._remind_every = remind_every
        self._lock = threading.Lock()
        self._reported = False  # this attempt already counted
        self._noted: BaseException | None = None  # an error paho logged during this attempt
        self._outage = 0  # failed attempts since the last connect
        self._reason: str | None = None
        self._logged_at = float("-inf")

    def attempt(self) -> None:
        """A connect attempt starts."""
        with self._lock:
            self._reported, self._noted, self.up = False, None, False

    def noted(self, error: BaseException) -> None:
        """paho logged ``error`` before the broker's CONNACK: the cause if this attempt fails."""
        with self._lock:
            self._noted = error

    def failed(self, error: BaseException | None = None, *, refusal: str | None = None) -> None:
        """This attempt failed with ``error`` (None: the one `noted`, if any); ``refusal``:
        the broker's CONNACK reason instead."""
        with self._lock:
            if self._reported:
                return
            self._reported, self.up = True, False
            if refusal is not None:
                reason, text = "broker_refused", f"the broker refused the connection: {refusal}"
            else:
                reason, text = diagnose(error if error is not None else self._noted)
            self.counts[reason] += 1
            self._outage += 1
            now = self._clock()
            changed = reason != self._reason
            if not changed and now - self._logged_at < self._remind_every:
                return
            self._reason, self._logged_at = reason, now
            self.logged += 1
            outage = self._outage
        tail = "logged again if the reason changes" if changed else "still failing"
        log.error("cannot connect to %s: %s [%s]; retrying with backoff, %s (%d failed attempt%s so far)",
                  self.broker, text, reason, tail, outage, "" if outage == 1 else "s")

    def connected(self) -> None:
        """The broker accepted the connection: the outage is over."""
        with self._lock:
            self._reported, self.up = True, True
            outage, self._outage, self._reason = self._outage, 0, None
            self._logged_at = float("-inf")
        if outage:
            log.info("connected to %s after %d failed attempt%s", self.broker, outage, "" if outage == 1 else "s")

    def paho_logger(self, logger: logging.Logger) -> PahoLog:
        """The logger to give paho (``enable_logger``)."""
        return PahoLog(logger, self)


class PahoLog(logging.LoggerAdapter):
    """paho's logger for one client: while not connected, its ERROR lines about the failing
    connection go to `ConnectFailures` (the cause) and are written at DEBUG only."""

    def __init__(self, logger: logging.Logger, failures: ConnectFailures) -> None:
        super().__init__(logger, {})
        self.failures = failures

    def log(self, level: int, msg: Any, *args: Any, **kwargs: Any) -> None:
        if level >= logging.WARNING and not self.failures.up:
            if isinstance(msg, str) and msg.startswith("Client is not connected"):
                level = logging.DEBUG  # repeated on every retry; the failure line says why
            elif args and isinstance(args[-1], OSError):  # "failed to receive on socket: %s" and kin
                self.failures.noted(args[-1])
                level = logging.DEBUG
        kwargs.setdefault("stacklevel", 2)  # the record's file and line: paho's, not this adapter's
        super().log(level, msg, *args, **kwargs)
