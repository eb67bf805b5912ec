"""Membership changes, one server at a time (Raft thesis 4.1).

A change takes effect on a node as soon as its entry is in that node's log, committed or not,
so the core keeps the configurations of the log's uncommitted tail and reverts one if its entry
is truncated away. The entry's data is the change encoded by `encode_change`, together with
the whole configuration it results in: a node that joins with an empty configuration (it was
not part of the bootstrap snapshot) learns the full membership from the entry itself.
"""

from __future__ import annotations

from wiber.core.types import ConfigChange, ConfigChangeType, ConfState

_SEP = b"\x00"


def encode_change(change: ConfigChange, result: ConfState | None = None) -> bytes:
    """`change`, plus (optionally) the configuration it results in."""
    parts = [change.type.value.encode(), change.node.encode()]
    if result is not None:
        parts += [",".join(result.voters).encode(), ",".join(result.learners).encode()]
    return _SEP.join(parts)


def decode_change(data: bytes) -> ConfigChange:
    """Inverse of `encode_change`; raises ValueError on anything else."""
    parts = data.split(_SEP)
    if len(parts) not in (2, 4) or not parts[1]:
        raise ValueError(f"not a config change: {data!r}")
    try:
        return ConfigChange(ConfigChangeType(parts[0].decode()), parts[1].decode())
    except UnicodeDecodeError as err:
        raise ValueError(f"not a config change: {data!r}") from err


def decode_result(data: bytes, before: ConfState) -> ConfState:
    """The configuration a config entry results in (from `before` if it does not say)."""
    change = decode_change(data)
    parts = data.split(_SEP)
    if len(parts) == 2:
        return apply_change(before, change)
    voters, learners = (tuple(p.decode().split(",")) if p else () for p in parts[2:])
    return ConfState(voters, learners)


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
