"""The readable trace of a run's last events, printed when a seed fails.

Recording must cost next to nothing on the millions of events that pass, so the trace keeps raw
tuples in a bounded deque and formats them only when asked. One line per event:

    `  1.234s n2 <- n1 append t3 i14 lt3 e2 c12`  a message delivered (type, term, index, log
                                                  term, entry count, commit), or held by a
                                                  paused node until it resumes
    `  1.234s n2    leader t3 log 16 c14 a14`    the node's state after it (role, term, last
                                                  log index, commit, applied)
    `  1.300s nemesis start {...}`               a fault
"""

from __future__ import annotations

from collections import deque
from typing import Any

from wiber.core.types import Message
from wiber.sim.events import EventQueue, seconds
from wiber.sim.node import SimNode

KEEP = 60


class Trace:
    def __init__(self, queue: EventQueue, keep: int = KEEP) -> None:
        self._queue = queue
        self._events: deque[tuple[Any, ...]] = deque(maxlen=keep)

    def message(self, m: Message, held: bool = False) -> None:
        self._events.append((self._queue.now_us, "msg", m, held))

    def state(self, node: SimNode) -> None:
        self._events.append(
            (
                self._queue.now_us,
                "state",
                node.id,
                node.role.value if node.up else "down",
                node.term,
                node.disk.last_index(),
                node.commit,
                node.applied_index,
            )
        )

    def note(self, who: str, text: str) -> None:
        self._events.append((self._queue.now_us, "note", who, text))

    def lines(self) -> list[str]:
        return [_format(event) for event in self._events]


def _format(event: tuple[Any, ...]) -> str:
    when = seconds(event[0])
    if event[1] == "msg":
        m: Message = event[2]
        text = f"{m.type.value} t{m.term} i{m.index} lt{m.log_term}"
        if m.entries:
            text += f" e{len(m.entries)}"
        if m.commit:
            text += f" c{m.commit}"
        if m.reject:
            text += f" reject(hint {m.reject_hint})"
        if m.snapshot is not None:
            text += f" snapshot@{m.snapshot.index}"
        if event[3]:
            text += " (held: paused)"
        return f"{when} {m.dst} <- {m.src} {text}"
    if event[1] == "state":
        _, _, node, role, term, last, commit, applied = event
        return f"{when} {node}    {role} t{term} log {last} c{commit} a{applied}"
    return f"{when} {event[2]} {event[3]}"
