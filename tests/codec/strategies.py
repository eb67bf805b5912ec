"""Hypothesis strategies for every value the codecs carry: names, line commands, frames.

`MESSAGE_STRATEGIES` has one entry per framed-protocol message class; a test checks that it
covers `framed.MESSAGE_CLASSES`, so a new frame type cannot go untested, and that every
optional field of every message and record is drawn with a non-default value, so a new field
cannot either.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

from hypothesis import strategies as st

from wiber.codec import line
from wiber.codec import messages as m
from wiber.codec.framed import Frame

NAME_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"

topics = st.one_of(
    st.text(NAME_CHARS, min_size=1, max_size=12),
    # Long names near the limit, built cheaply: drawing 249 random characters is slow.
    st.builds(lambda char, n: char * n, st.sampled_from("aZ9_"), st.integers(240, 249)),
).filter(lambda name: name not in (".", ".."))
ids = st.text(min_size=1, max_size=8)
counts = st.one_of(st.integers(0, 1000), st.integers(0, m.MAX_INT))


def _optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


def _one_start(required: bool) -> st.SearchStrategy[dict[str, int]]:
    names = ["from_offset", "last_n", "from_time_ms"]
    choice = st.sampled_from(names) if required else st.sampled_from([*names, None])
    return st.tuples(choice, counts).map(lambda pair: {pair[0]: pair[1]} if pair[0] else {})


deps = st.one_of(
    st.just(()),
    st.lists(st.tuples(topics, counts), max_size=3).map(tuple),
    # the limit itself, cheaply
    st.builds(lambda n: tuple((f"t{i}", i) for i in range(n)), st.sampled_from([1, m.MAX_DEPS])),
)
skews = st.one_of(
    st.just((None, None)),
    st.tuples(st.integers(m.MIN_INT, m.MAX_INT), counts),
    st.tuples(st.integers(-(10**7), 10**7), st.integers(0, 10**6)),
)
HEX = "0123456789abcdef"
# Valid W3C traceparents; all-zero ids are invalid, and drawing one is vanishingly rare but
# would fail construction, so they are nudged to 1.
traceparents = st.builds(
    lambda trace, span, flags: f"00-{trace or 1:032x}-{span or 1:016x}-{flags:02x}",
    st.integers(0, 2**128 - 1),
    st.integers(0, 2**64 - 1),
    st.integers(0, 255),
)
publish_messages = st.one_of(
    st.builds(m.PublishMessage, st.binary(max_size=64)),
    st.builds(m.PublishMessage, st.binary(max_size=64), ids, counts, _optional(counts), deps),
    st.builds(m.PublishMessage, st.binary(max_size=64), deps=deps),
)
stored_messages = st.builds(
    lambda *fields, skew, traceparent: dataclasses.replace(
        m.StoredMessage(*fields, *skew), traceparent=traceparent
    ),
    topics,
    counts,
    counts,
    _optional(ids),
    _optional(counts),
    _optional(counts),
    st.binary(max_size=64),
    _optional(ids),
    deps,
    skew=skews,
    traceparent=_optional(traceparents),
)
members = st.builds(m.Member, ids, ids)
fetches = st.builds(
    lambda topic, start, count, size, stale: m.Fetch(
        topic, **start, max_count=count, max_bytes=size, stale_ok=stale
    ),
    topics,
    _one_start(required=True),
    st.integers(1, m.MAX_BATCH_MESSAGES),
    st.integers(1, m.MAX_INT),
    st.booleans(),
)
subscribes = st.builds(
    lambda topic, start, group: m.Subscribe(topic, **start, group=group),
    topics,
    _one_start(required=False),
    _optional(topics),
)

MESSAGE_STRATEGIES: dict[type[m.Message], st.SearchStrategy[Any]] = {
    m.Hello: st.builds(m.Hello, st.lists(st.integers(1, 65_535), min_size=1, max_size=4), ids),
    m.Publish: st.builds(
        m.Publish,
        topics,
        st.lists(publish_messages, min_size=1, max_size=3),
        st.sampled_from(["quorum", "all"]),
        _optional(counts),
        _optional(traceparents),
    ),
    m.Fetch: fetches,
    m.Subscribe: subscribes,
    m.Unsubscribe: st.builds(m.Unsubscribe, counts),
    m.CommitOffset: st.builds(
        m.CommitOffset, topics, topics, counts, _optional(counts) | st.just(-1), st.booleans()
    ),
    m.FetchOffset: st.builds(m.FetchOffset, topics, topics),
    m.Metadata: st.just(m.Metadata()),
    m.Ping: st.just(m.Ping()),
    m.HelloOk: st.builds(m.HelloOk, st.integers(1, 65_535), ids),
    m.PublishOk: st.builds(
        m.PublishOk, st.lists(counts, min_size=1, max_size=3), _optional(counts)
    ),
    m.FetchOk: st.builds(m.FetchOk, st.lists(stored_messages, max_size=3), counts, counts),
    m.SubscribeOk: st.builds(m.SubscribeOk, counts, counts),
    m.Ok: st.just(m.Ok()),
    m.OffsetOk: st.builds(m.OffsetOk, _optional(counts)),
    m.MetadataOk: st.builds(m.MetadataOk, st.lists(members, max_size=3), _optional(ids)),
    m.Pong: st.just(m.Pong()),
    m.Status: st.just(m.Status()),
    m.ChangeMembers: st.builds(m.ChangeMembers, st.sampled_from(["add", "remove"]), ids),
    m.TransferLeader: st.builds(m.TransferLeader, ids),
    m.StatusOk: st.builds(
        m.StatusOk,
        ids,
        st.sampled_from(["leader", "follower"]),
        counts,
        _optional(ids),
        counts,
        counts,
        counts,
        st.lists(ids, max_size=5),
        counts,
        _optional(st.floats(allow_nan=False, allow_infinity=False)),
    ),
    m.Delivery: st.builds(m.Delivery, counts, st.lists(stored_messages, max_size=3)),
    m.Authenticate: st.builds(m.Authenticate, ids, st.binary(max_size=64)),
    m.PutUser: st.builds(
        m.PutUser,
        ids,
        st.binary(min_size=1, max_size=16),
        st.integers(1, 10_000_000),
        st.binary(min_size=1, max_size=32),
        st.binary(min_size=1, max_size=32),
    ),
    m.RemoveUser: st.builds(m.RemoveUser, ids),
    m.ChangeAcl: st.builds(
        m.ChangeAcl,
        st.sampled_from(["add", "remove"]),
        ids,
        st.sampled_from(["publish", "subscribe", "admin"]),
        ids,
    ),
    m.ListAcls: st.just(m.ListAcls()),
    m.AuthReply: st.builds(m.AuthReply, st.binary(max_size=64), _optional(ids)),
    m.AclList: st.builds(
        m.AclList, st.lists(st.tuples(ids, ids, ids), max_size=3), st.lists(ids, max_size=3)
    ),
    m.Error: st.builds(
        m.Error,
        st.sampled_from(list(m.ErrorCode)) | ids,
        st.text(max_size=40),
        st.booleans(),
        _optional(ids),
    ),
}

REQUEST_CLASSES = frozenset(
    {
        m.Hello,
        m.Publish,
        m.Fetch,
        m.Subscribe,
        m.Unsubscribe,
        m.CommitOffset,
        m.FetchOffset,
        m.Metadata,
        m.Ping,
        m.Status,
        m.ChangeMembers,
        m.TransferLeader,
        m.Authenticate,
        m.PutUser,
        m.RemoveUser,
        m.ChangeAcl,
        m.ListAcls,
    }
)
request_ids = st.integers(1, 2**32 - 1)


def frames_of(cls: type[m.Message]) -> st.SearchStrategy[Frame]:
    """Frames carrying `cls`, with a request id that class may carry."""
    if cls is m.Delivery:
        rids: st.SearchStrategy[int] = st.just(0)
    elif cls in REQUEST_CLASSES:
        rids = request_ids
    else:
        rids = st.integers(0, 2**32 - 1)
    return st.builds(Frame, rids, MESSAGE_STRATEGIES[cls])


frames = st.one_of([frames_of(cls) for cls in MESSAGE_STRATEGIES])

# Line protocol: messages are any text without CR or LF (what a line can carry).
line_messages = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\r\n"), max_size=40
)
line_commands = st.one_of(
    st.builds(line.Sub, topics, _optional(counts)),
    st.builds(line.Pub, topics, line_messages),
    st.builds(line.History, topics, counts),
    st.builds(line.Fetch, topics, counts, counts),
    st.just(line.Ping()),
    st.just(line.Quit()),
)


def split_points(data: bytes) -> st.SearchStrategy[list[bytes]]:
    """`data` cut into chunks at random places (empty chunks included)."""
    cuts = st.lists(st.integers(0, len(data)), max_size=8).map(sorted)
    return cuts.map(lambda points: _cut(data, points))


def _cut(data: bytes, points: list[int]) -> list[bytes]:
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]
