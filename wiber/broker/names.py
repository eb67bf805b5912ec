"""Name rules for topics and consumer groups.

The topic rule is Kafka's: 1..249 characters of `[A-Za-z0-9._-]`, never "." or "..", so a topic
name is always a safe file name and a safe token in the line protocol. This is a private copy
of `wiber.codec.names.validate_topic` (written in parallel); the two must agree, and the lead
will keep one.
"""

from __future__ import annotations

import re

MAX_NAME_LENGTH = 249

_TOPIC_RE = re.compile(r"[A-Za-z0-9._-]{1,249}")


def topic_error(topic: str) -> str | None:
    """Why `topic` is not a valid topic name, or None when it is."""
    if not _TOPIC_RE.fullmatch(topic):
        return f"topic name must be 1..{MAX_NAME_LENGTH} characters of [A-Za-z0-9._-]: {topic!r}"
    if topic in (".", ".."):
        return f"topic name may not be {topic!r}"
    return None


def group_error(group: str) -> str | None:
    """Why `group` is not a valid consumer-group name, or None when it is.

    Groups never become file names, so any non-empty text up to the topic length limit will do.
    """
    if not group or len(group) > MAX_NAME_LENGTH:
        return f"group name must be 1..{MAX_NAME_LENGTH} characters: {group[:40]!r}"
    return None
