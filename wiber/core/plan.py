"""Turn a Ready into the ordered actions every runtime executes.

The order is the Raft paper's durability rule made explicit: whatever a message promises
(a vote, an appended entry, a term) is on disk before the message leaves. The simulator and the
asyncio runtime execute the same list, so the simulator checks the ordering the runtime uses.
"""

from __future__ import annotations

from dataclasses import dataclass

from wiber.core.types import Entry, HardState, Message, ReadState, Ready, Snapshot


@dataclass(frozen=True, slots=True)
class InstallSnapshot:
    snapshot: Snapshot


@dataclass(frozen=True, slots=True)
class Append:
    """Append `entries`, first truncating the log to just before `entries[0].index`."""

    entries: tuple[Entry, ...]


@dataclass(frozen=True, slots=True)
class SaveHardState:
    hard_state: HardState


@dataclass(frozen=True, slots=True)
class Sync:
    """Make every write before this point durable (one fsync covers them all)."""


@dataclass(frozen=True, slots=True)
class Send:
    messages: tuple[Message, ...]


@dataclass(frozen=True, slots=True)
class Apply:
    entries: tuple[Entry, ...]


@dataclass(frozen=True, slots=True)
class ServeReads:
    read_states: tuple[ReadState, ...]


Action = InstallSnapshot | Append | SaveHardState | Sync | Send | Apply | ServeReads


def plan(ready: Ready) -> list[Action]:
    actions: list[Action] = []
    if ready.snapshot is not None:
        actions.append(InstallSnapshot(ready.snapshot))
    if ready.entries:
        actions.append(Append(ready.entries))
    if ready.hard_state is not None:
        actions.append(SaveHardState(ready.hard_state))
    if ready.must_sync:
        actions.append(Sync())
    if ready.messages:
        actions.append(Send(ready.messages))
    if ready.committed:
        actions.append(Apply(ready.committed))
    if ready.read_states:
        actions.append(ServeReads(ready.read_states))
    return actions
