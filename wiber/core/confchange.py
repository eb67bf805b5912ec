"""Membership changes, one server at a time (Raft thesis 4.1).

A change takes effect on a node as soon as its entry is in that node's log, committed or not,
so the core keeps the configurations of the log's uncommitted tail and reverts one if its entry
is truncated away. The entry's data is the change encoded by `encode_change`.
"""

from __future__ import annotations

from wiber.core.types import ConfigChange, ConfigChangeType, ConfState

_SEP = b"\x00"


def encode_change(change: ConfigChange) -> bytes:
    return change.type.value.encode() + _SEP + change.node.encode()


def decode_change(data: bytes) -> ConfigChange:
    """Inverse of `encode_change`; raises ValueError on anything else."""
    kind, sep, node = data.partition(_SEP)
    if not sep or not node:
        raise ValueError(f"not a config change: {data!r}")
    return ConfigChange(ConfigChangeType(kind.decode()), node.decode())


def apply_change(conf: ConfState, change: ConfigChange) -> ConfState:
    voters = [v for v in conf.voters if v != change.node]
    learners = [v for v in conf.learners if v != change.node]
    if change.type is ConfigChangeType.ADD_VOTER:
        voters.append(change.node)
    elif change.type is ConfigChangeType.ADD_LEARNER:
        learners.append(change.node)
    return ConfState(tuple(sorted(voters)), tuple(sorted(learners)))


def members(conf: ConfState) -> tuple[str, ...]:
    return conf.voters + conf.learners
