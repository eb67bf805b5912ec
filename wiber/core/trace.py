"""Per-step trace events of one core, for TLA+ trace validation (DESIGN.md 4.6).

Off by default (`Tracer.enabled`); when on, each received message, each sent message and each
role change becomes one dict: the event name, the node, the message's scalar fields and the
node's state after the step. `RaftCore.events()` hands them out and forgets them.

The configuration in force goes beside the state (`voters`, and `learners` when there are
any), and an append that carries config entries names their indexes (`config_indexes`): a
leader proposes a change without an event, so trace validation learns from these which of the
entries it appended silently was the change, and a node's configuration is checked on every
line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wiber.core.types import EntryKind, Message

if TYPE_CHECKING:
    from wiber.core.state import CoreState

Event = dict[str, Any]


def message_fields(m: Message) -> Event:
    fields: Event = {
        "type": m.type.value,
        "src": m.src,
        "dst": m.dst,
        "term": m.term,
        "index": m.index,
        "log_term": m.log_term,
        "entries": len(m.entries),
        "commit": m.commit,
        "reject": m.reject,
        "reject_hint": m.reject_hint,
        "hint_term": m.hint_term,
    }
    configs = [e.index for e in m.entries if e.kind is EntryKind.CONFIG]
    if configs:
        fields["config_indexes"] = configs
    if m.snapshot is not None:
        fields["snapshot_index"] = m.snapshot.index
        fields["snapshot_term"] = m.snapshot.term
    return fields


class Tracer:
    def __init__(self, core: CoreState) -> None:
        self.core = core
        self.enabled = False
        self.events: list[Event] = []

    def _record(self, name: str, m: Message | None) -> None:
        core = self.core
        event: Event = {
            "event": name,
            "node": core.id,
            "state": {
                "term": core.term,
                "role": core.role.value,
                "vote": core.vote,
                "last_index": core.log.last_index(),
                "commit": core.log.committed,
            },
            "voters": list(core.conf.voters),
        }
        if core.conf.learners:
            event["learners"] = list(core.conf.learners)
        if m is not None:
            event["msg"] = message_fields(m)
        self.events.append(event)

    def receive(self, m: Message) -> None:
        if self.enabled:
            self._record("receive", m)

    def send(self, m: Message) -> None:
        if self.enabled:
            self._record("send", m)

    def note(self, name: str) -> None:
        if self.enabled:
            self._record(name, None)

    def take(self) -> list[Event]:
        events, self.events = self.events, []
        return events
