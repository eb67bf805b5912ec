"""Simulated clients: publish and poll through the nodes, and record a `log` workload history.

Each client slot runs one op at a time, as a Jepsen process does. An op's outcome is recorded
honestly: `ok` only when the node applied the client's own entry (publish) or served a read at a
linearizable read point (poll, through ReadIndex); `fail` only when the op certainly had no
effect (refused by the core, the node unreachable, or another entry committed at the index);
`info` when it may or may not have happened (a timeout or a crash with the entry in flight).
After `info` the slot's process is retired and a fresh process number takes its place.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.history import HistoryWriter, Op
from wiber.core.errors import ProposalDropped
from wiber.core.types import Entry, EntryKind, NodeId, ReadState
from wiber.sim.events import EventQueue
from wiber.sim.machine import BrokerMachine, encode_publish
from wiber.sim.node import SimNode

TOPICS = ("t1", "t2")


class Recorder:
    """The run's history: kept in memory (for checks) and streamed to a file when asked."""

    def __init__(self, queue: EventQueue, path: Path | None) -> None:
        self._queue = queue
        self.ops: list[Op] = []
        self._writer = HistoryWriter(path) if path is not None else None

    def record(self, process: int | str, type_: str, f: str, value: Any, **extra: Any) -> None:
        op: Op = {
            "index": len(self.ops),
            "time": self._queue.now_us * 1000,
            "process": process,
            "type": type_,
            "f": f,
            "value": value,
        }
        op.update({k: v for k, v in extra.items() if v is not None})
        self.ops.append(op)
        if self._writer is not None:
            self._writer.write(op)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


@dataclass
class Slot:
    number: int
    process: int
    hint: NodeId
    busy: bool = False


@dataclass
class PendingSend:
    slot: Slot
    node: NodeId
    index: int
    entry: Entry
    value: dict[str, Any]


@dataclass
class PendingRead:
    slot: Slot
    node: NodeId
    value: dict[str, Any]
    index: int | None = None  # the read point, once the leader confirmed it


@dataclass
class ClientOptions:
    count: int
    timeout_us: int
    stop_us: int  # no new op starts after this
    think_us: tuple[int, int] = (5_000, 40_000)
    backoff_us: tuple[int, int] = (20_000, 80_000)


class Clients:
    def __init__(
        self,
        queue: EventQueue,
        rng: random.Random,
        nodes: dict[NodeId, SimNode],
        recorder: Recorder,
        options: ClientOptions,
        drain: Callable[[SimNode], None],
        acknowledged: Callable[[int, Entry], None],
    ) -> None:
        self._queue = queue
        self._rng = rng
        self._nodes = nodes
        self._recorder = recorder
        self._options = options
        self._drain = drain
        self._acknowledged = acknowledged
        self._sends: dict[tuple[NodeId, int], PendingSend] = {}
        self._reads: dict[bytes, PendingRead] = {}
        self._next_process = options.count
        self._next_value = 0
        self._next_read = 0
        self._hanging = 0  # ops sent to a paused node, waiting for their timeout
        self._known_end = dict.fromkeys(TOPICS, 0)
        self.proposals: list[Entry] = []  # every entry a client got into a log
        self.slots = [Slot(n, n, rng.choice(sorted(nodes))) for n in range(options.count)]

    def start(self) -> None:
        for slot in self.slots:
            self._queue.after(self._rng.randint(*self._options.think_us), self._runner(slot))

    def pending(self) -> int:
        return len(self._sends) + len(self._reads) + self._hanging

    def _hang(self, give_up: Callable[[], None]) -> None:
        """A stopped process never answers: the client can only time out, not knowing."""
        self._hanging += 1

        def timeout() -> None:
            self._hanging -= 1
            give_up()

        self._queue.after(self._options.timeout_us, timeout)

    def _runner(self, slot: Slot) -> Callable[[], None]:
        return lambda: self._step(slot)

    def _step(self, slot: Slot) -> None:
        if slot.busy or self._queue.now_us >= self._options.stop_us:
            return
        slot.busy = True
        if self._rng.random() < 0.6:
            self._send(slot)
        else:
            self._poll(slot)

    def _finish(self, slot: Slot, retire: bool, backoff: bool = False) -> None:
        slot.busy = False
        if retire:
            slot.process = self._next_process
            self._next_process += 1
        delay = self._rng.randint(*self._options.think_us)
        if backoff:
            # A refused client waits before trying elsewhere, as a real one would: during an
            # election every node refuses, and a tight retry loop would only flood the history.
            delay += self._rng.randint(*self._options.backoff_us)
        self._queue.after(delay, self._runner(slot))

    def _target(self, slot: Slot) -> SimNode:
        return self._nodes[slot.hint]

    def _redirect(self, slot: Slot, hint: NodeId | None) -> None:
        slot.hint = hint if hint in self._nodes else self._rng.choice(sorted(self._nodes))

    # Publishing.
    def _send(self, slot: Slot) -> None:
        topic = self._rng.choice(TOPICS)
        number = self._next_value
        self._next_value += 1
        value: dict[str, Any] = {"topic": topic, "value": number}
        node = self._target(slot)
        self._recorder.record(slot.process, "invoke", "send", value, node=node.id)
        if node.core is None:
            self._fail(slot, "send", value, node.id, "unavailable")
            return
        if node.paused:
            self._hang(lambda: self._indefinite(slot, value, node.id, "timeout"))
            return
        data = encode_publish(topic, number, node.stamp())
        try:
            index = node.core.propose(data)
        except ProposalDropped as refused:
            self._fail(slot, "send", value, node.id, refused.reason, refused.leader_hint)
            return
        proposed = Entry(index, node.core.status().term, EntryKind.NORMAL, data)
        pending = PendingSend(slot, node.id, index, proposed, value)
        self._sends[(node.id, index)] = pending
        self.proposals.append(proposed)
        self._queue.after(self._options.timeout_us, lambda: self._send_timeout(pending))
        self._drain(node)

    def _send_timeout(self, pending: PendingSend) -> None:
        if self._sends.get((pending.node, pending.index)) is pending:
            del self._sends[(pending.node, pending.index)]
            self._indefinite(pending.slot, pending.value, pending.node, "timeout")

    def _fail(
        self,
        slot: Slot,
        f: str,
        value: dict[str, Any],
        node: NodeId,
        error: str,
        hint: NodeId | None = None,
    ) -> None:
        self._recorder.record(slot.process, "fail", f, value, node=node, error=error)
        self._redirect(slot, hint)
        self._finish(slot, retire=False, backoff=hint is None)

    def _indefinite(self, slot: Slot, value: dict[str, Any], node: NodeId, error: str) -> None:
        self._recorder.record(slot.process, "info", "send", value, node=node, error=error)
        self._redirect(slot, None)
        self._finish(slot, retire=True)

    def applied(self, node: SimNode, entry: Entry, offsets: tuple[int, ...]) -> None:
        pending = self._sends.pop((node.id, entry.index), None)
        if pending is not None:
            if entry != pending.entry:
                # Another entry is committed at this index, so ours never can be.
                self._fail(pending.slot, "send", pending.value, node.id, "overwritten")
            elif not offsets:
                self._fail(pending.slot, "send", pending.value, node.id, "rejected")
            else:
                topic = pending.value["topic"]
                self._known_end[topic] = max(self._known_end[topic], offsets[-1] + 1)
                self._acknowledged(entry.index, entry)
                done = {**pending.value, "offset": offsets[0]}
                self._recorder.record(pending.slot.process, "ok", "send", done, node=node.id)
                self._finish(pending.slot, retire=False)
        if self._reads:
            self._serve_reads(node)

    # Polling through ReadIndex.
    def _poll(self, slot: Slot) -> None:
        topic = self._rng.choice(TOPICS)
        start = max(0, self._known_end[topic] - self._rng.randint(0, 4))
        value: dict[str, Any] = {"topic": topic, "from": start}
        node = self._target(slot)
        self._recorder.record(slot.process, "invoke", "poll", value, node=node.id)
        if node.core is None:
            self._fail(slot, "poll", value, node.id, "unavailable")
            return
        if node.paused:
            self._hang(lambda: self._fail(slot, "poll", value, node.id, "timeout"))
            return
        context = f"read-{self._next_read}".encode()
        self._next_read += 1
        try:
            node.core.read_index(context)
        except ProposalDropped as refused:
            self._fail(slot, "poll", value, node.id, refused.reason, refused.leader_hint)
            return
        pending = PendingRead(slot, node.id, value)
        self._reads[context] = pending
        self._queue.after(self._options.timeout_us, lambda: self._read_timeout(context, pending))
        self._drain(node)

    def _read_timeout(self, context: bytes, pending: PendingRead) -> None:
        if self._reads.get(context) is pending:
            del self._reads[context]
            # A read changes nothing, so a read that timed out certainly had no effect.
            self._fail(pending.slot, "poll", pending.value, pending.node, "timeout")

    def read_states(self, node: SimNode, states: tuple[ReadState, ...]) -> None:
        for state in states:
            pending = self._reads.get(state.context)
            if pending is not None and pending.node == node.id:
                pending.index = state.index
        self._serve_reads(node)

    def _serve_reads(self, node: SimNode) -> None:
        machine = node.machine
        if machine is None:
            return
        ready = [
            (context, pending)
            for context, pending in self._reads.items()
            if pending.node == node.id
            and pending.index is not None
            and pending.index <= node.applied_index
        ]
        for context, pending in ready:
            del self._reads[context]
            msgs = machine.read(pending.value["topic"], pending.value["from"])
            done = {**pending.value, "msgs": [list(m) for m in msgs]}
            self._recorder.record(pending.slot.process, "ok", "poll", done, node=node.id)
            self._finish(pending.slot, retire=False)

    def final_reads(self, nodes: list[SimNode]) -> None:
        """Jepsen's final reads: once the cluster settled, read every topic of every node's
        committed state from its log start, so that a checker can tell lost from unread.

        A node installed from a snapshot no longer has the bodies below it (DESIGN.md 4.8), so
        each node reads from its own log-start offset and the union covers the history."""
        for node in nodes:
            machine = node.machine
            if machine is None:
                continue
            for topic in TOPICS:
                self._final_read(node, machine, topic)

    def _final_read(self, node: SimNode, machine: BrokerMachine, topic: str) -> None:
        process = self._next_process
        self._next_process += 1
        value: dict[str, Any] = {"topic": topic, "from": machine.log_start(topic)}
        self._recorder.record(process, "invoke", "poll", value, node=node.id)
        msgs: list[list[int]] = []
        page = machine.read(topic, value["from"])
        while page:
            msgs.extend(list(m) for m in page)
            page = machine.read(topic, page[-1][0] + 1)
        self._recorder.record(process, "ok", "poll", {**value, "msgs": msgs}, node=node.id)

    def crashed(self, node: SimNode) -> None:
        """The node lost its memory: its in-flight publishes are now of unknown outcome."""
        for key, send in sorted(self._sends.items()):
            if send.node == node.id:
                del self._sends[key]
                self._indefinite(send.slot, send.value, node.id, "node crashed")
        for context, read in list(self._reads.items()):
            if read.node == node.id:
                del self._reads[context]
                self._fail(read.slot, "poll", read.value, node.id, "node crashed")
