"""The property every causal consumer run must keep, as a checker the tests share.

An unmarked delivery must come after each of its causes that this consumer reads: every dep
on a subscribed topic at or above that topic's start offset, and the previous offset of its
own topic. A marked delivery may break that, but only openly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from wiber.clocks.reorder import Delivered
from wiber.codec import messages as m


def causal_violations(
    deliveries: Iterable[Delivered[m.StoredMessage]], starts: Mapping[str, int]
) -> list[str]:
    """One line per unmarked delivery that came before one of its causes."""
    delivered: set[tuple[str, int]] = set()
    violations = []
    for d in deliveries:
        msg = d.message.value
        causes = [*msg.deps]
        if msg.offset > starts[msg.topic]:
            causes.append((msg.topic, msg.offset - 1))
        early = [
            (topic, offset)
            for topic, offset in causes
            if topic in starts and offset >= starts[topic] and (topic, offset) not in delivered
        ]
        if early and not d.marks:
            violations.append(f"{msg.topic}/{msg.offset} delivered unmarked before {early}")
        delivered.add((msg.topic, msg.offset))
    return violations
