"""Name rules, as the broker applies them: the codec's rules, answered as refusal text.

Both protocols and the broker must agree on what a topic or group name is (a name the codec
accepts and the broker refuses would fail late and confusingly), so the rule lives in one
place, `wiber.codec.names`: 1..249 characters of `[A-Za-z0-9._-]`, never "." or "..".
The rule for causal dependencies lives in `wiber.codec.messages.deps_error` for the same reason.
"""

from __future__ import annotations

from wiber.codec.errors import CodecError
from wiber.codec.messages import deps_error
from wiber.codec.names import is_topic, validate_group, validate_topic


def topic_error(topic: str) -> str | None:
    """Why `topic` is not a valid topic name, or None when it is."""
    if is_topic(topic):  # the common case, without raising
        return None
    try:
        validate_topic(topic)
    except CodecError as exc:
        return str(exc)
    return None


def group_error(group: str) -> str | None:
    """Why `group` is not a valid consumer-group name, or None when it is."""
    if is_topic(group):  # groups obey the topic rule
        return None
    try:
        validate_group(group)
    except CodecError as exc:
        return str(exc)
    return None


__all__ = ["deps_error", "group_error", "topic_error"]
