"""A real Mosquitto for tests and benchmarks: own port, own config, can be killed and restarted.

Never the system broker: each `Broker` writes its config into a temporary directory and
listens on a free port of 127.0.0.1.
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"

DYNSEC_PLUGIN = "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so"


def free_port() -> int:
    """A TCP port that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class TlsListener:
    """A TLS listener: the broker's certificate and key, the CA it trusts for client
    certificates, and whether it requires one."""

    cafile: Path
    certfile: Path
    keyfile: Path
    require_certificate: bool = False

    def lines(self, port: int) -> list[str]:
        return [f"listener {port} 127.0.0.1", f"cafile {self.cafile}", f"certfile {self.certfile}",
                f"keyfile {self.keyfile}", f"require_certificate {str(self.require_certificate).lower()}"]


class ServerProcess:
    """A server process a test started (``process``): stopped cleanly or killed."""

    process: subprocess.Popen | None = None

    def kill(self) -> None:
        """Stop at once (SIGKILL), as a crash would."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        """Stop cleanly (SIGTERM: a broker saves its persistence, Redis its append-only file)."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


class Broker(ServerProcess):
    """One Mosquitto process.

    Args:
        directory: where the config, log and persistence files go.
        port: the port (a free one when None); kept across restarts.
        persistence: keep sessions and retained messages across restarts (on disk).
        deny: ``(acltype, topic pattern)`` pairs the broker refuses to anonymous clients, through
            Mosquitto's dynamic-security plugin (which answers a refused SUBSCRIBE or PUBLISH with
            "Not authorized", unlike ``acl_file``), e.g. ``("subscribePattern", "sensors/#")``,
            ``("publishClientSend", "forecasts/#")``. None: everything allowed.
        tls: also a TLS listener on ``tls_port`` (`tls_url`); ``url`` stays plain TCP, for the
            test's own publishers and collectors.
        extra: more lines for ``mosquitto.conf`` (e.g. ``autosave_on_changes true``).
    """

    def __init__(self, directory: Path, *, port: int | None = None, persistence: bool = False,
                 deny: list[tuple[str, str]] | None = None, tls: TlsListener | None = None,
                 extra: list[str] | None = None) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.persistence = persistence
        self.deny = deny
        self.extra = list(extra or [])
        self.tls = tls
        self.tls_port = free_port() if tls else None
        self.process: subprocess.Popen | None = None
        self.config = self.directory / "mosquitto.conf"
        self.log = self.directory / "mosquitto.log"

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    @property
    def tls_url(self) -> str:
        assert self.tls_port, "a Broker(tls=...) has a TLS listener"
        return f"mqtts://127.0.0.1:{self.tls_port}"

    def start(self, timeout: float = 10.0) -> Broker:
        """Start and wait until the port accepts connections."""
        lines = [
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous true",
            "user root",  # tests may run as root; do not drop to user mosquitto
            "set_tcp_nodelay true",
            "max_queued_messages 100000",
            "max_inflight_messages 0",
            f"log_dest file {self.log}",
            "log_type error",
            "log_type warning",
            f"persistence {'true' if self.persistence else 'false'}",
        ]
        if self.persistence:
            lines += [f"persistence_location {self.directory}/", "autosave_interval 1"]
        lines += self.extra
        if self.deny is not None:
            lines += [f"plugin {DYNSEC_PLUGIN}", f"plugin_opt_config_file {self._dynsec_config()}"]
        if self.tls is not None:
            lines += self.tls.lines(self.tls_port)
        self.config.write_text("\n".join(lines) + "\n")
        self.process = subprocess.Popen([MOSQUITTO, "-c", str(self.config)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {self.log.read_text() if self.log.exists() else ''}")
            try:
                for port in (self.port, self.tls_port) if self.tls_port else (self.port,):
                    with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                        pass
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not listen on {self.port} within {timeout} s")

    def _dynsec_config(self) -> Path:
        allow = {"publishClientSend": True, "publishClientReceive": True, "subscribe": True, "unsubscribe": True}
        acls = [{"acltype": kind, "topic": topic, "priority": 0, "allow": False} for kind, topic in self.deny or []]
        path = self.directory / "dynamic-security.json"
        path.write_text(json.dumps({
            "defaultACLAccess": allow, "clients": [], "anonymousGroup": "anonymous",
            "groups": [{"groupname": "anonymous", "roles": [{"rolename": "denied"}]}],
            "roles": [{"rolename": "denied", "acls": acls}],
        }))
        return path

    def restart(self) -> Broker:
        """Kill and start again on the same port."""
        self.kill()
        return self.start()


class Collector:
    """Messages received on some topic filters (a real MQTT client), with waiting helpers."""

    def __init__(self, url: str, *filters: str, client_id: str = "test-collector", hook=None) -> None:
        from forecaster.serve.mqtt_client import MqttClient
        from forecaster.serve.mqtt_settings import BrokerAddress, MqttSettings

        self.messages: list[tuple[str, bytes, float]] = []
        self._hook = hook  # also called with (topic, payload, receipt time) in paho's thread
        self._cond = threading.Condition()
        settings = MqttSettings(broker=BrokerAddress.parse(url), client_id=client_id, reconnect_max=2)
        self.client = MqttClient(settings, subscriptions=[(f, 1) for f in filters], on_message=self._add)
        self.client.start()
        if not self.client.wait_connected(10):
            raise RuntimeError("collector could not connect")
        time.sleep(0.2)  # let the SUBACK arrive

    def _add(self, topic: str, payload: bytes) -> None:
        received = time.monotonic()
        with self._cond:
            self.messages.append((topic, payload, received))
            self._cond.notify_all()
        if self._hook is not None:
            self._hook(topic, payload, received)

    def wait_for(self, predicate, timeout: float = 30.0) -> bool:
        """Wait until ``predicate(messages)`` holds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self.messages):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def close(self) -> None:
        self.client.stop()
