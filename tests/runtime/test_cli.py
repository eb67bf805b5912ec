"""`wiber pub | sub | history` against a real broker, as a user runs them."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

from tests.runtime.brokers import Broker


def wiber(broker: Broker, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wiber", *args],
        env=broker.env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_quick_start_with_wiber_commands(broker: Broker) -> None:
    assert wiber(broker, "pub", "chat", "first").returncode == 0
    sub = subprocess.Popen(
        [sys.executable, "-m", "wiber", "sub", "chat", "--history", "5", "--count", "2"],
        env=broker.env,
        stdout=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.5)
    pub = wiber(broker, "pub", "chat", "Hello,", "distributed", "world!")
    assert pub.returncode == 0, pub.stderr
    assert pub.stdout.strip() == "published chat 1"
    out, _ = sub.communicate(timeout=30)
    lines = out.splitlines()
    assert re.fullmatch(r"HISTORY chat \d+\.\d+ first", lines[0])
    assert re.fullmatch(r"MSG chat \d+\.\d+ Hello, distributed world!", lines[1])


def test_pub_reads_stdin_lines_and_history_prints_them(broker: Broker) -> None:
    done = wiber(broker, "pub", "log", "--json", stdin="a\nb\nc\n")
    assert done.returncode == 0, done.stderr
    assert [json.loads(x)["offset"] for x in done.stdout.splitlines()] == [0, 1, 2]
    hist = wiber(broker, "history", "log", "2")
    assert [x.split(" ", 3)[3] for x in hist.stdout.splitlines()] == ["b", "c"]


def test_sub_from_offset_json(broker: Broker) -> None:
    wiber(broker, "pub", "j", stdin="x\ny\nz\n")
    out = wiber(broker, "sub", "j", "--from-offset", "1", "--count", "2", "--json")
    records = [json.loads(x) for x in out.stdout.splitlines()]
    assert [(r["offset"], r["message"]) for r in records] == [(1, "y"), (2, "z")]


def test_pub_fails_loudly_without_a_broker(broker: Broker) -> None:
    broker.stop()
    done = wiber(broker, "pub", "chat", "lost", "--timeout", "1")
    assert done.returncode != 0
    assert "not acknowledged" in done.stderr


def test_groups_resume_describe_and_reset(broker: Broker) -> None:
    wiber(broker, "pub", "g", stdin="a\nb\nc\nd\n")
    first = wiber(broker, "sub", "g", "--group", "team", "--from-offset", "0", "--count", "2")
    assert [x.rsplit(" ", 1)[1] for x in first.stdout.splitlines()] == ["a", "b"]
    described = wiber(broker, "groups", "describe", "team", "--topic", "g", "--json")
    row = json.loads(described.stdout)
    assert (row["committed"], row["end"], row["lag"]) == (2, 4, 2)
    resumed = wiber(broker, "sub", "g", "--group", "team", "--count", "1")
    assert resumed.stdout.rsplit(" ", 1)[1].strip() == "c"
    wiber(broker, "groups", "reset", "team", "--topic", "g", "--to-earliest")
    again = wiber(broker, "sub", "g", "--group", "team", "--count", "1")
    assert again.stdout.rsplit(" ", 1)[1].strip() == "a"
    latest = wiber(broker, "groups", "reset", "team", "--topic", "g", "--to-latest")
    assert latest.stdout.strip() == "team g: committed offset now 4"
