"""Structured logs are one JSON object per line with the node's context and extra fields."""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace
from typing import Any, cast

from wiber.runtime.logs import JsonFormatter


def test_a_record_becomes_one_json_line_with_node_context() -> None:
    formatter = JsonFormatter()
    node = SimpleNamespace(id="n2", core=SimpleNamespace(term=7), clock=SimpleNamespace(last=99))
    formatter.node = cast(Any, node)
    record = logging.makeLogRecord(
        {"name": "wiber.node", "levelname": "WARNING", "msg": "slow %s", "args": ("fsync",)}
    )
    record.request = 42
    line = formatter.format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["msg"] == "slow fsync"
    assert (entry["level"], entry["node"], entry["term"], entry["hlc"]) == ("warning", "n2", 7, 99)
    assert entry["request"] == 42


def test_without_a_node_the_line_still_parses() -> None:
    record = logging.makeLogRecord({"msg": "starting"})
    entry = json.loads(JsonFormatter().format(record))
    assert entry["msg"] == "starting"
    assert "node" not in entry
