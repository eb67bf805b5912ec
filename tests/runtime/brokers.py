"""Start and stop real `wiber broker` processes for integration tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path


def free_port() -> int:
    """A port whose +1 and +2 neighbours are free too (peer and metrics ports)."""
    for _ in range(100):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port + 2 < 65536 and all(_free(port + i) for i in (1, 2)):
            return port
    raise RuntimeError("no free port triple found")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass
class Broker:
    data_dir: Path
    port: int = field(default_factory=free_port)
    fsync: str = "group"
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "WIBER_HOST": "127.0.0.1",
            "WIBER_PORT": str(self.port),
            "WIBER_DATA_DIR": str(self.data_dir),
            "WIBER_FSYNC": self.fsync,
        }

    def start(self, timeout: float = 15.0) -> None:
        self.log_path = self.data_dir.parent / f"broker-{self.port}.log"
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "wiber", "broker"], env=self.env, stdout=log, stderr=log
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"broker exited: {self.log_path.read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"broker did not listen on {self.port}")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


class LineClient:
    """The seed's line protocol over a plain socket, as `nc` would speak it."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buffer = b""

    def send(self, line: str | bytes) -> None:
        data = line.encode() if isinstance(line, str) else line
        self.sock.sendall(data if data.endswith(b"\n") else data + b"\n")

    def read_line(self) -> str:
        while b"\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.decode()

    def ask(self, line: str | bytes) -> str:
        self.send(line)
        return self.read_line()

    def close(self) -> None:
        self.sock.close()
