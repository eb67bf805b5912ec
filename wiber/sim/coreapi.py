"""The Raft core as the simulator drives it: one Protocol, one default class, one import site.

Tests hand `simulate` another class with the same constructor (a mutant from tests/mutants.py);
everything else in the simulator talks to this Protocol only.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Protocol

from wiber.core.errors import ProposalDropped
from wiber.core.raft import RaftCore
from wiber.core.status import Status
from wiber.core.types import (
    Config,
    ConfigChange,
    ConfState,
    LogStorage,
    Message,
    NodeId,
    Ready,
)


class Core(Protocol):
    def tick(self) -> None: ...

    def step(self, message: Message) -> None: ...

    def propose(self, data: bytes) -> int: ...

    def propose_conf_change(self, change: ConfigChange) -> int: ...

    def campaign(self) -> None: ...

    def transfer_leadership(self, to: NodeId) -> None: ...

    def read_index(self, context: bytes) -> None: ...

    def has_ready(self) -> bool: ...

    def ready(self) -> Ready: ...

    def advance(self, ready: Ready) -> None: ...

    def conf_at(self, index: int) -> ConfState: ...

    def status(self) -> Status: ...


CoreFactory = Callable[[Config, LogStorage, random.Random, int], Core]

DEFAULT_CORE: CoreFactory = RaftCore

__all__ = ["DEFAULT_CORE", "Core", "CoreFactory", "ProposalDropped"]
