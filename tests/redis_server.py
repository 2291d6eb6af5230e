"""A real redis-server for tests and benchmarks: own port, own directory, append-only file on.

Never the machine's Redis on 6379: each `RedisServer` listens on a free port of 127.0.0.1 and
keeps its append-only file in its own directory, so a kill and a restart bring the data back.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

from mqtt_broker import ServerProcess, free_port

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


class RedisServer(ServerProcess):
    """One redis-server process.

    Args:
        directory: its working directory (the append-only file, the log).
        port: the port (a free one when None); kept across restarts.
        appendfsync: ``always`` (every write on disk before Redis answers) or ``everysec``.
    """

    def __init__(self, directory: Path, *, port: int | None = None, appendfsync: str = "always") -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.appendfsync = appendfsync
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> RedisServer:
        """Start and wait until it answers PING."""
        command = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory),
                   "--appendonly", "yes", "--appendfsync", self.appendfsync, "--save", "",
                   "--logfile", str(self.directory / "redis.log"), "--daemonize", "no"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited: {(self.directory / 'redis.log').read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"redis-server did not answer on {self.port} within {timeout} s")

