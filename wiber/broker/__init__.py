"""The broker state machine (pure): committed Raft entries in, effects out.

The same code runs in the asyncio runtime and in the deterministic simulator. `BrokerState`
applies encoded commands (`encode_command`) and answers reads given a reader of log entries.
"""

from wiber.broker.access import AclRule, Credential
from wiber.broker.commands import (
    EXPECT_UNSET,
    ChangeAcl,
    Command,
    CommandError,
    CommitOffset,
    CreateTopic,
    Dep,
    NewMessage,
    Origin,
    PublishBatch,
    PutUser,
    RawBatch,
    RemoveUser,
    decode_command,
    decode_entry,
    encode_command,
)
from wiber.broker.effects import (
    AccessChanged,
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
    "AccessChanged",
    "AclRule",
    "Appended",
    "BrokerMessage",
    "BrokerState",
    "ChangeAcl",
    "Code",
    "Command",
    "CommandError",
    "CommitOffset",
    "CreateTopic",
    "Credential",
    "Dep",
    "Effect",
    "EntryReader",
    "NewMessage",
    "OffsetCommitted",
    "Origin",
    "PublishBatch",
    "Published",
    "PutUser",
    "RawBatch",
    "ReadError",
    "ReadResult",
    "Rejected",
    "RemoveUser",
    "SnapshotError",
    "TopicCreated",
    "decode_command",
    "decode_entry",
    "encode_command",
    "message_id",
]
