"""Broker snapshots: topic indexes, producer dedup windows, committed offsets, applied index.

Message bodies are not in a snapshot: they stay in the Raft log until retention removes them,
and a node restored from a snapshot serves each topic from its log-start offset.

Format (msgpack, version 2), sorted so that equal states give equal bytes:

    [2, applied_index, topics, committed, users, acls]
    topics     [[name, end_offset, last_hlc, rows, producers], ...]
    rows       [first_offset, log_index, first_hlc, ...]            three ints per row, flat
    producers  [[producer_id, next_seq, [first_seq, count, first_offset, ...]], ...]
    committed  [[group, topic, offset], ...]
    users      [[name, salt, iterations, stored_key, server_key], ...]
    acls       [[principal, operation, pattern], ...]

Version 1 (before users and ACLs) is `[1, applied_index, topics, committed]` and still loads,
with no users and no rules.

`load` checks every field and the way they fit together, and raises `SnapshotError` (never
anything else) on garbage: a bad snapshot must stop a node, not corrupt it quietly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgpack

from wiber.broker.access import AccessState, AclRule, Credential, rule_error
from wiber.broker.index import TopicIndex
from wiber.broker.names import group_error, topic_error
from wiber.broker.producers import DEDUP_WINDOW, ProducerWindow
from wiber.broker.topics import TopicState

FORMAT_VERSION = 2

Committed = dict[tuple[str, str], int]


class SnapshotError(ValueError):
    """The bytes are not a broker snapshot this version can restore."""


def dump(
    applied_index: int,
    topics: dict[str, TopicState],
    committed: Committed,
    access: AccessState | None = None,
) -> bytes:
    topic_rows = [_dump_topic(name, state) for name, state in sorted(topics.items())]
    offsets = [[g, t, o] for (g, t), o in sorted(committed.items())]
    access = access or AccessState()
    users = [[name, *cred] for name, cred in sorted(access.users.items())]
    acls = [list(rule) for rule in sorted(access.rules)]
    packed: bytes = msgpack.packb(
        [FORMAT_VERSION, applied_index, topic_rows, offsets, users, acls], use_bin_type=True
    )
    return packed


def _dump_topic(name: str, state: TopicState) -> list[Any]:
    index = state.index
    producers = [
        [pid, w.next_seq, [v for b in w.batches for v in (b.first_seq, b.count, b.first_offset)]]
        for pid, w in sorted(state.producers.items())
    ]
    rows = [v for row in index.rows() for v in row]
    return [name, index.end_offset, index.last_hlc, rows, producers]


def load(data: bytes) -> tuple[int, dict[str, TopicState], Committed, AccessState]:
    try:
        raw = msgpack.unpackb(data, raw=False, use_list=True)
    except Exception as exc:  # msgpack raises many types on garbage; all mean the same
        raise SnapshotError(f"not a msgpack snapshot: {exc}") from exc
    version = raw[0] if isinstance(raw, list) and raw else None
    if version not in (1, FORMAT_VERSION) or isinstance(version, bool):
        raise SnapshotError(f"unsupported snapshot format version {version!r}")
    if version == 1:
        _, applied_index, topic_rows, offsets = _list(raw, "snapshot", 4)
        access = AccessState()
    else:
        _, applied_index, topic_rows, offsets, users, acls = _list(raw, "snapshot", 6)
        access = _load_access(users, acls)
    topics: dict[str, TopicState] = {}
    for item in _list(topic_rows, "topics"):
        name, state = _load_topic(item)
        if name in topics:
            raise SnapshotError(f"topic {name!r} appears twice")
        topics[name] = state
    return _nat(applied_index, "applied index"), topics, _load_committed(offsets), access


def _load_access(users: Any, acls: Any) -> AccessState:
    access = AccessState()
    for item in _list(users, "users"):
        name, salt, iterations, stored, server = _list(item, "user", 5)
        if not isinstance(name, str) or name in access.users:
            raise SnapshotError(f"bad or repeated user name {name!r:.40}")
        if not all(isinstance(v, bytes) for v in (salt, stored, server)):
            raise SnapshotError(f"user {name!r}: salt and keys must be bytes")
        access.users[name] = Credential(salt, _nat(iterations, "iterations"), stored, server)
    for item in _list(acls, "acls"):
        principal, operation, pattern = _list(item, "acl rule", 3)
        if not all(isinstance(v, str) for v in (principal, operation, pattern)):
            raise SnapshotError("an acl rule is three strings")
        rule = AclRule(principal, operation, pattern)
        if (error := rule_error(rule)) is not None:
            raise SnapshotError(f"acl rule {tuple(rule)}: {error}")
        access.rules.add(rule)
    return access


def _load_topic(item: Any) -> tuple[str, TopicState]:
    name, end_offset, last_hlc, flat_rows, producer_rows = _list(item, "topic", 5)
    name = _name(name, topic_error)
    flat = [_nat(v, "index row field") for v in _list(flat_rows, "index rows")]
    if len(flat) % 3:
        raise SnapshotError(f"topic {name!r}: index rows are not triples")
    rows = [(flat[i], flat[i + 1], flat[i + 2]) for i in range(0, len(flat), 3)]
    if _int(last_hlc, "last HLC") < -1:
        raise SnapshotError(f"topic {name!r}: last HLC {last_hlc} below -1")
    try:
        index = TopicIndex.from_rows(rows, _nat(end_offset, "end offset"), last_hlc)
    except ValueError as exc:
        raise SnapshotError(f"topic {name!r}: {exc}") from exc
    state = TopicState(index)
    for producer in _list(producer_rows, "producers"):
        pid, window = _load_window(producer, index.end_offset)
        if pid in state.producers:
            raise SnapshotError(f"topic {name!r}: producer {pid!r} appears twice")
        state.producers[pid] = window
    return name, state


def _load_window(item: Any, end_offset: int) -> tuple[str, ProducerWindow]:
    pid, next_seq, flat_batches = _list(item, "producer", 3)
    if not isinstance(pid, str):
        raise SnapshotError("producer id must be a string")
    flat = [_nat(v, "dedup batch field") for v in _list(flat_batches, "dedup batches")]
    if not flat or len(flat) % 3 or len(flat) > 3 * DEDUP_WINDOW:
        raise SnapshotError(f"producer {pid!r}: 1..{DEDUP_WINDOW} dedup batches of 3 fields")
    window = ProducerWindow()
    for i in range(0, len(flat), 3):
        first_seq, count, first_offset = flat[i : i + 3]
        if i and first_seq != window.next_seq:
            raise SnapshotError(f"producer {pid!r}: dedup batches are not consecutive")
        if count == 0 or first_offset + count > end_offset:
            raise SnapshotError(f"producer {pid!r}: dedup batch outside the topic")
        window.record(first_seq, count, first_offset)
    if window.next_seq != next_seq:
        raise SnapshotError(f"producer {pid!r}: next seq {next_seq} != {window.next_seq}")
    return pid, window


def _load_committed(offsets: Any) -> Committed:
    committed: Committed = {}
    for item in _list(offsets, "committed offsets"):
        group, topic, offset = _list(item, "committed offset", 3)
        key = (_name(group, group_error), _name(topic, topic_error))
        if key in committed:
            raise SnapshotError(f"committed offset for {key} appears twice")
        committed[key] = _nat(offset, "committed offset")
    return committed


def _list(value: Any, what: str, length: int | None = None) -> list[Any]:
    if not isinstance(value, list) or (length is not None and len(value) != length):
        shape = "an array" if length is None else f"an array of {length}"
        raise SnapshotError(f"{what} must be {shape}")
    return value


def _int(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise SnapshotError(f"{what} must be an integer, not {type(value).__name__}")
    return value


def _nat(value: Any, what: str) -> int:
    if _int(value, what) < 0:
        raise SnapshotError(f"{what} must not be negative: {value}")
    return int(value)


def _name(value: Any, rule: Callable[[str], str | None]) -> str:
    error = rule(value) if isinstance(value, str) else "a name must be a string"
    if error is not None:
        raise SnapshotError(error)
    return str(value)
