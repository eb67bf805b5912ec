"""An immutable picture of one core, for callers, tests and `cluster status`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from wiber.core.progress import ProgressStatus
from wiber.core.types import ConfState, NodeId, Role


@dataclass(frozen=True, slots=True)
class Status:
    id: NodeId
    term: int
    vote: NodeId | None
    role: Role
    leader: NodeId | None
    commit: int
    applied: int
    last_index: int
    conf: ConfState
    progress: Mapping[NodeId, ProgressStatus] = field(default_factory=dict)  # leader only
    transferee: NodeId | None = None
