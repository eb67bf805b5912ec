"""The broker state machine (pure): committed Raft entries in, effects out.

The same code runs in the asyncio runtime and in the deterministic simulator. `BrokerState`
applies encoded commands (`encode_command`) and answers reads given a reader of log entries.
"""

from wiber.broker.commands import (
    EXPECT_UNSET,
    Command,
    CommandError,
    CommitOffset,
    CreateTopic,
    Dep,
    NewMessage,
    Origin,
    PublishBatch,
    RawBatch,
    decode_command,
    decode_entry,
    encode_command,
)
from wiber.broker.effects import (
    Appended,
    Code,
    Effect,
    OffsetCommitted,
    Published,
    Rejected,
    TopicCreated,
)
from wiber.broker.producers import DEDUP_WINDOW
from wiber.broker.reads import BrokerMessage, EntryReader, ReadError, ReadResult, message_id
from wiber.broker.snapshot import SnapshotError
from wiber.broker.state import BrokerState

__all__ = [
    "DEDUP_WINDOW",
    "EXPECT_UNSET",
    "Appended",
    "BrokerMessage",
    "BrokerState",
    "Code",
    "Command",
    "CommandError",
    "CommitOffset",
    "CreateTopic",
    "Dep",
    "Effect",
    "EntryReader",
    "NewMessage",
    "OffsetCommitted",
    "Origin",
    "PublishBatch",
    "Published",
    "RawBatch",
    "ReadError",
    "ReadResult",
    "Rejected",
    "SnapshotError",
    "TopicCreated",
    "decode_command",
    "decode_entry",
    "encode_command",
    "message_id",
]
