"""The seed's quick start and line protocol against a real broker process."""

from __future__ import annotations

import re
import subprocess

from tests.runtime.brokers import Broker, LineClient

TS = r"\d+\.\d+"


def test_ping_pub_history_sub_as_the_seed_did(broker: Broker) -> None:
    c = LineClient(broker.port)
    assert c.ask("PING") == "OK PONG"
    assert c.ask("PUB chat Hello, distributed world!") == "OK published chat 0"
    assert c.ask("PUB chat second one") == "OK published chat 1"
    c.send("HISTORY chat 5")
    lines = [c.read_line() for _ in range(3)]
    assert re.fullmatch(rf"HISTORY chat {TS} Hello, distributed world!", lines[0])
    assert re.fullmatch(rf"HISTORY chat {TS} second one", lines[1])
    assert lines[2] == "OK history chat 2"

    sub = LineClient(broker.port)
    assert sub.ask("SUB chat") == "OK subscribed chat"
    assert c.ask("PUB chat live") == "OK published chat 2"
    assert re.fullmatch(rf"MSG chat {TS} live", sub.read_line())
    assert c.ask("QUIT") == "OK bye"


def test_sub_from_offset_replays_then_follows(broker: Broker) -> None:
    c = LineClient(broker.port)
    for i in range(3):
        c.ask(f"PUB t m{i}")
    sub = LineClient(broker.port)
    assert sub.ask("SUB t FROM 1") == "OK subscribed t from 1"
    assert sub.read_line().endswith(" m1")
    assert sub.read_line().endswith(" m2")
    c.ask("PUB t m3")
    assert sub.read_line().endswith(" m3")


def test_bad_input_gets_err_and_the_connection_stays_usable(broker: Broker) -> None:
    c = LineClient(broker.port)
    assert c.ask("BOGUS x").startswith("ERR ")
    assert c.ask("PUB bad/topic hi").startswith("ERR ")
    assert c.ask("HISTORY chat -1").startswith("ERR ")
    assert c.ask(b"PUB chat \xff\xfe").startswith("ERR ")
    c.send(b"PUB chat " + b"x" * (2 << 20))
    assert c.read_line().startswith("ERR ")
    assert c.ask("PING") == "OK PONG"


def test_framed_garbage_does_not_take_the_node_down(broker: Broker) -> None:
    c = LineClient(broker.port)
    c.send(b"\x00WBR\xff\xff\xff\xff\x01garbage")
    c.close()
    assert LineClient(broker.port).ask("PING") == "OK PONG"


def test_nc_works_as_a_client(broker: Broker) -> None:
    out = subprocess.run(
        ["nc", "-q", "1", "127.0.0.1", str(broker.port)],
        input=b"PUB chat via nc\nHISTORY chat 1\nQUIT\n",
        capture_output=True,
        timeout=20,
        check=True,
    ).stdout.decode()
    lines = out.splitlines()
    assert lines[0] == "OK published chat 0"
    assert re.fullmatch(rf"HISTORY chat {TS} via nc", lines[1])
    assert lines[2:] == ["OK history chat 1", "OK bye"]
