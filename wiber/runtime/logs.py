"""Structured logs: one JSON object per line, with the node's id, Raft term and HLC.

`wiber broker --log-format json` (or `log_format: json` in the config) switches to them; the
harness collects each node's log with every run. Extra fields passed with `extra={...}` (for
example `request`) are kept.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wiber.runtime.node import Node

_STANDARD = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__()
        self.node: Node | None = None

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": record.created,
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        node = self.node
        if node is not None:
            entry.update(node=node.id, term=node.core.term, hlc=node.clock.last)
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def use_json_logs(level: int = logging.INFO) -> JsonFormatter:
    """Make every handler of the root logger write JSON lines; returns the formatter so the
    node can attach itself once it exists."""
    formatter = JsonFormatter()
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=level)
    for handler in root.handlers:
        handler.setFormatter(formatter)
    root.setLevel(level)
    return formatter
