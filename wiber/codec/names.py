"""Name rules shared by both protocols: topics and consumer groups.

Topic names follow Kafka's rule (1..249 characters of `[A-Za-z0-9._-]`, never "." or ".."),
so a topic name is always a safe file name and a safe token in the line protocol, which splits
on spaces. Consumer groups obey the same rule for the same reasons. Other identifiers (node,
client and producer ids) are free text of bounded length.
"""

from __future__ import annotations

import re
from typing import Final

from wiber.codec.errors import CodecError

MAX_TOPIC_CHARS: Final = 249
MAX_ID_CHARS: Final = 255
_NAME_CHARS: Final = re.compile(r"[A-Za-z0-9._-]+")
_BAD_CHAR: Final = re.compile(r"[^A-Za-z0-9._-]")


def is_topic(name: object) -> bool:
    """Whether `name` is a valid topic (or group) name; `validate_topic` says why not."""
    return (
        type(name) is str
        and len(name) <= MAX_TOPIC_CHARS
        and _NAME_CHARS.fullmatch(name) is not None
        and name != "."
        and name != ".."
    )


def validate_topic(name: str) -> None:
    """Raise `CodecError` saying why `name` is not a valid topic name."""
    _validate_name("topic", name)


def validate_group(name: str) -> None:
    """Raise `CodecError` saying why `name` is not a valid consumer-group name."""
    _validate_name("group", name)


def validate_id(kind: str, value: str) -> None:
    """Node, client and producer ids: any non-empty text of at most 255 characters."""
    if not isinstance(value, str):
        raise CodecError(f"{kind} must be a string, not {type(value).__name__}")
    if not value or len(value) > MAX_ID_CHARS:
        raise CodecError(f"{kind} must have 1..{MAX_ID_CHARS} characters, not {len(value)}")


def _validate_name(kind: str, name: str) -> None:
    if is_topic(name):
        return
    if not isinstance(name, str):
        raise CodecError(f"{kind} name must be a string, not {type(name).__name__}")
    if not name:
        raise CodecError(f"{kind} name is empty")
    if len(name) > MAX_TOPIC_CHARS:
        raise CodecError(f"{kind} name has {len(name)} characters, more than {MAX_TOPIC_CHARS}")
    if name in (".", ".."):
        raise CodecError(f"{kind} name may not be {name!r}")
    if not _NAME_CHARS.fullmatch(name):
        bad = _BAD_CHAR.search(name)
        char = bad.group() if bad else "?"
        raise CodecError(
            f"{kind} name {_shorten(name)!r} contains {char!r}; allowed are A-Z a-z 0-9 . _ -"
        )


def _shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "..."
