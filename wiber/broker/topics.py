"""What the broker keeps per topic: where its messages are, and its producers' dedup windows."""

from __future__ import annotations

from dataclasses import dataclass, field

from wiber.broker.index import TopicIndex
from wiber.broker.producers import ProducerWindow


@dataclass(slots=True)
class TopicState:
    index: TopicIndex = field(default_factory=TopicIndex)
    producers: dict[str, ProducerWindow] = field(default_factory=dict)
