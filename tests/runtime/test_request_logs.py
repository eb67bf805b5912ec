"""A refused request is logged as one JSON line naming the request id and the client."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.runtime.brokers import free_port
from wiber.client import Client
from wiber.client.connection import ClientError
from wiber.codec import messages as m


def wait_listening(port: int, broker: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        assert broker.poll() is None, log_path.read_text()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"broker did not listen: {log_path.read_text()[-2000:]}")


def test_a_refused_request_is_logged_with_its_request_id_and_client(tmp_path: Path) -> None:
    port = free_port()
    log_path = tmp_path / "broker.log"
    env = {
        **os.environ,
        "WIBER_HOST": "127.0.0.1",
        "WIBER_PORT": str(port),
        "WIBER_DATA_DIR": str(tmp_path / "data"),
    }
    with log_path.open("wb") as log:
        broker = subprocess.Popen(
            [sys.executable, "-m", "wiber", "broker", "--log-format", "json"],
            env=env,
            stdout=log,
            stderr=log,
        )
    try:
        wait_listening(port, broker, log_path)

        async def refused() -> None:
            async with Client([f"127.0.0.1:{port}"]) as client:
                with pytest.raises(ClientError, match="unknown-subscription"):
                    await client.request(m.Unsubscribe(999), leader=True)

        asyncio.run(refused())
        deadline = time.monotonic() + 10
        lines: list[dict[str, object]] = []
        while time.monotonic() < deadline and not lines:
            entries = [
                json.loads(x) for x in log_path.read_text().splitlines() if x.startswith("{")
            ]
            lines = [e for e in entries if e.get("code") == "unknown-subscription"]
            time.sleep(0.1)
    finally:
        broker.terminate()
        broker.wait(10)
    assert lines, log_path.read_text()[-2000:]
    [entry] = lines
    assert isinstance(entry["request"], int)
    assert entry["request"] > 0
    assert str(entry["client"]).startswith("client-")
    assert entry["node"] == "n1"
    assert entry["definite"] is True
    assert "Unsubscribe refused" in str(entry["msg"])
