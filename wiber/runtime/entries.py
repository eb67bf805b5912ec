"""What the runtime needs to know about an entry's payload without applying it."""

from __future__ import annotations

from wiber.broker import CommandError
from wiber.broker.commands import RawBatch, decode_entry
from wiber.core.types import Entry, EntryKind


def entry_timestamp(entry: Entry) -> int:
    """The leader-stamped HLC of a publish entry (0 for other entries), for the log's time
    index: the timestamp travels inside the command, so followers index the same value."""
    if entry.kind is not EntryKind.NORMAL:
        return 0
    try:
        command = decode_entry(entry.data)
    except CommandError:
        return 0
    return command.hlc if isinstance(command, RawBatch) else 0
