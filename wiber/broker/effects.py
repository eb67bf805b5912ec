"""What applying a command asks the runtime to do.

Effects are small values. The node whose `origin` matches replies to its pending client
request; every node wakes the subscribers of a topic on `Appended`. An effect with
`origin=None` has no client waiting for it (a command proposed without one, or an implicit
action such as auto-creating a topic).
"""

from __future__ import annotations

from dataclasses import dataclass

from wiber.broker.commands import Origin


class Code:
    """Rejection codes. Each says whether the refused command `definite`ly did nothing."""

    INVALID_COMMAND = "invalid-command"  # undecodable or malformed; definite
    INVALID_TOPIC = "invalid-topic"  # bad topic name; definite
    INVALID_GROUP = "invalid-group"  # bad consumer-group name; definite
    INVALID_OFFSET = "invalid-offset"  # negative or oversized offset; definite
    UNKNOWN_TOPIC = "unknown-topic"  # publish to a missing topic with auto-create off; definite
    TOPIC_EXISTS = "topic-exists"  # CreateTopic of an existing topic; definite
    UNKNOWN_PRODUCER = "unknown-producer"  # first batch of a producer starts above seq 0; definite
    OUT_OF_ORDER_SEQUENCE = "out-of-order-sequence"  # gap (definite) or overlap (not definite)
    DUPLICATE_SEQUENCE = "duplicate-sequence"  # a retry older than the dedup window; NOT definite
    OFFSET_MISMATCH = "offset-mismatch"  # compare-and-set saw another committed offset; definite
    INVALID_ACCESS = "invalid-access"  # a malformed user or ACL rule; definite
    NOT_FOUND = "not-found"  # removing a user or rule that does not exist; definite


@dataclass(frozen=True, slots=True)
class Published:
    """The batch's messages sit at `offsets` (the original ones when `duplicate`).

    `hlc` is the stored timestamp of the batch's last message (None when a duplicate's
    original is gone to retention): a
    causal client carries the largest one it has seen into its next publish, so its effects
    are stamped above their causes whichever leader stamps them.
    """

    origin: Origin | None
    topic: str
    offsets: tuple[int, ...]
    duplicate: bool = False
    hlc: int | None = None


@dataclass(frozen=True, slots=True)
class Rejected:
    """The command was refused. `definite` is true when it certainly changed nothing.

    `definite=False` means some of what the client asked for may already be in the log (from
    an earlier attempt), so the client must neither report failure nor resend it as new.
    """

    origin: Origin | None
    code: str
    message: str
    definite: bool = True


@dataclass(frozen=True, slots=True)
class OffsetCommitted:
    origin: Origin | None
    group: str
    topic: str
    offset: int


@dataclass(frozen=True, slots=True)
class TopicCreated:
    origin: Origin | None
    topic: str


@dataclass(frozen=True, slots=True)
class AccessChanged:
    """A user or ACL rule was added, replaced or removed."""

    origin: Origin | None
    what: str


@dataclass(frozen=True, slots=True)
class Appended:
    """New messages at `first_offset .. first_offset + count - 1`, all in entry `log_index`.

    Message i of the entry's batch has timestamp `first_hlc + i`, so a runtime can deliver
    straight from the entry it just applied without asking the state again.
    """

    topic: str
    first_offset: int
    count: int
    log_index: int
    first_hlc: int


Effect = Published | Rejected | OffsetCommitted | TopicCreated | Appended | AccessChanged
