"""Canonical one-line texts for the core's values (etcd raft's Describe* functions).

Golden interaction tests and the simulator's event traces print exactly these, so a change
here shows up as a reviewable diff in `tests/core/testdata/`.
"""

from __future__ import annotations

from wiber.core.confchange import decode_change
from wiber.core.status import Status
from wiber.core.types import ConfState, Entry, EntryKind, HardState, Message, MessageType, Ready

MT = MessageType


def describe_entry(e: Entry) -> str:
    head = f"{e.index}:t{e.term}"
    if e.kind is EntryKind.NOOP:
        return f"{head} noop"
    if e.kind is EntryKind.CONFIG:
        try:
            change = decode_change(e.data)
        except ValueError:
            return f"{head} conf {e.data!r}"
        return f"{head} conf {change.type.value} {change.node}"
    return f"{head} {_text(e.data)}"


def describe_entries(entries: tuple[Entry, ...] | list[Entry]) -> str:
    return "[" + ", ".join(describe_entry(e) for e in entries) + "]"


def describe_conf(conf: ConfState) -> str:
    text = "voters=(" + " ".join(conf.voters) + ")"
    if conf.learners:
        text += " learners=(" + " ".join(conf.learners) + ")"
    return text


def describe_message(m: Message) -> str:
    head = f"{m.src}->{m.dst} {m.type.value} t{m.term}"
    return head + "".join(" " + part for part in _message_parts(m))


def _message_parts(m: Message) -> list[str]:
    if m.type in (MT.VOTE, MT.PRE_VOTE):
        parts = [f"last={m.index}:t{m.log_term}"]
        return [*parts, "transfer"] if m.context else parts
    if m.type in (MT.VOTE_RESP, MT.PRE_VOTE_RESP):
        return ["rejected" if m.reject else "granted"]
    if m.type is MT.APPEND:
        return [f"prev={m.index}:t{m.log_term}", f"commit={m.commit}", describe_entries(m.entries)]
    if m.type is MT.APPEND_RESP:
        if m.reject:
            return [f"reject index={m.index}", f"hint={m.reject_hint}:t{m.hint_term}"]
        return [f"index={m.index}"]
    if m.type in (MT.HEARTBEAT, MT.HEARTBEAT_RESP):
        parts = [f"commit={m.commit}"] if m.type is MT.HEARTBEAT else []
        return [*parts, f"ctx={_text(m.context)}"] if m.context else parts
    if m.type is MT.SNAPSHOT and m.snapshot is not None:
        snap = m.snapshot
        return [f"snap={snap.index}:t{snap.term}", describe_conf(snap.conf)]
    if m.type is MT.READ_INDEX:
        return [f"ctx={_text(m.context)}"]
    if m.type is MT.READ_INDEX_RESP:
        return [f"index={m.index}", f"ctx={_text(m.context)}"]
    return []


def describe_hard_state(hs: HardState) -> str:
    return f"term={hs.term} vote={hs.vote or '-'} commit={hs.commit}"


def describe_ready(rd: Ready, soft: bool = True) -> list[str]:
    lines = (
        [f"soft: {rd.soft_state.role.value} leader={rd.soft_state.leader or '-'}"] if soft else []
    )
    if rd.hard_state is not None:
        lines.append("hard: " + describe_hard_state(rd.hard_state))
    if rd.snapshot is not None:
        snap = rd.snapshot
        lines.append(f"snapshot: {snap.index}:t{snap.term} {describe_conf(snap.conf)}")
    if rd.entries:
        lines.append("entries: " + describe_entries(rd.entries))
    if rd.must_sync:
        lines.append("sync")
    lines.extend("send: " + describe_message(m) for m in rd.messages)
    if rd.committed:
        lines.append("apply: " + describe_entries(rd.committed))
    lines.extend(f"read: index={r.index} ctx={_text(r.context)}" for r in rd.read_states)
    return lines


def describe_status(st: Status) -> list[str]:
    lines = [
        f"{st.id}: {st.role.value} term={st.term} vote={st.vote or '-'} "
        f"leader={st.leader or '-'} commit={st.commit} applied={st.applied} "
        f"last={st.last_index} {describe_conf(st.conf)}"
    ]
    if st.transferee:
        lines.append(f"  transferring to {st.transferee}")
    for node, pr in sorted(st.progress.items()):
        learner = " learner" if pr.learner else ""
        lines.append(
            f"  {node}: {pr.state.value} match={pr.match} next={pr.next} "
            f"inflight={pr.inflight}{learner}"
        )
    return lines


def _text(data: bytes) -> str:
    try:
        return '"' + data.decode() + '"'
    except UnicodeDecodeError:
        return repr(data)
