"""One Wiber node on asyncio: the Raft core, its disk, the broker state machine and the clock.

The node drives the pure core: timers call `tick()`, client requests call `propose()` and
`read_index()`, and one driver task executes `plan(ready)` for every Ready, exactly as the
simulator does. Group commit falls out of that loop: while one fsync runs in a worker thread,
new proposals pile up in the core, and the next Ready appends and syncs them all at once.

A single node is a Raft group of one; there is no separate code path.

Tracing (`wiber.runtime.tracing`, off unless configured): a publish's `raft.propose` and
`raft.commit` spans on the leader, `raft.append` on followers (a child of the trace context
stored in the entry, decoded only when tracing is on), and one `log.fsync` span per group
commit, linked to the spans of the entries it made durable.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import os
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, TextIO

from wiber.broker import (
    AccessChanged,
    Appended,
    BrokerState,
    ChangeAcl,
    CommitOffset,
    Effect,
    NewMessage,
    OffsetCommitted,
    Origin,
    PublishBatch,
    Published,
    PutUser,
    ReadResult,
    Rejected,
    RemoveUser,
    encode_command,
)
from wiber.broker.commands import traceparent_of
from wiber.clocks.hlc import ClockOffsetError, HybridClock, Source
from wiber.core.errors import ProposalDropped
from wiber.core.plan import (
    Append,
    Apply,
    InstallSnapshot,
    SaveHardState,
    Send,
    ServeReads,
    Sync,
    plan,
)
from wiber.core.raft import RaftCore
from wiber.core.types import (
    Config,
    ConfigChange,
    ConfigChangeType,
    Entry,
    EntryKind,
    Message,
    Ready,
    Role,
    Snapshot,
)
from wiber.runtime.config import NodeConfig
from wiber.runtime.disk import DiskStorage
from wiber.runtime.entries import entry_timestamp
from wiber.runtime.metrics import NodeMetrics
from wiber.runtime.tracing import Attributes, tracer_for
from wiber.runtime.transport import PeerTls, PeerTransport
from wiber.security.policy import ClientSecurity
from wiber.security.tls import TlsFiles, client_context, server_context
from wiber.storage import MetaStore

if TYPE_CHECKING:
    from opentelemetry.trace import SpanContext

log = logging.getLogger("wiber.node")

Sender = Callable[[Sequence[Message]], None]


class RequestError(Exception):
    """A client request failed. `definite` is True when it certainly did not take effect."""

    def __init__(
        self, code: str, message: str, *, definite: bool, leader: str | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.definite = definite
        self.leader = leader


@dataclass(frozen=True, slots=True)
class PublishResult:
    offsets: tuple[int, ...]
    duplicate: bool
    hlc: int | None = None  # the stored stamp of the batch's last message


def physical_ms() -> int:
    return time.time_ns() // 1_000_000


class Node:
    def __init__(self, config: NodeConfig, *, rng: random.Random | None = None) -> None:
        self.config = config
        self.id = config.id
        self.disk = DiskStorage(
            config.data_dir,
            bootstrap_voters=config.voters,
            fsync=config.fsync,
            segment_bytes=config.segment_bytes,
        )
        snapshot = self.disk.snapshot()
        self.broker = BrokerState.restore(snapshot.data) if snapshot.data else BrokerState()
        self.core = RaftCore(
            Config(
                id=config.id,
                election_ticks=config.election_ticks,
                heartbeat_ticks=config.heartbeat_ticks,
            ),
            self.disk,
            rng or random.Random(),
            applied=snapshot.index,
        )
        self._clock_meta = MetaStore(config.data_dir / "clock-bound")
        floor = (self._clock_meta.load() or {}).get("bound", 0)
        self.clock = HybridClock(config.id, config.max_clock_offset_ms, floor=int(floor))
        self.sender: Sender = lambda messages: None
        self.transport: PeerTransport | None = None
        # Request numbers start at a random point so that a restarted node never mistakes an
        # old entry's origin for one of its new requests.
        self._next_request = int.from_bytes(os.urandom(5), "big") << 20
        self._pending: dict[int, asyncio.Future[Effect]] = {}
        self._reads: dict[bytes, asyncio.Future[int]] = {}
        self._applied_waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._topic_events: dict[str, asyncio.Event] = {}
        self._wake = asyncio.Event()
        self._role = Role.FOLLOWER
        self._leader: str | None = None
        self._leader_changed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._fsync_pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="fsync")
        self._closed = False
        self.metrics = NodeMetrics()
        self.metrics.attach(self)
        self.tracer = tracer_for(config.tracing, config.id, config.data_dir)
        # Tracing only: the raft.commit span of each entry this node proposed, until appended,
        # and the spans of entries appended but not yet synced (the next log.fsync links them).
        self._entry_spans: dict[int, SpanContext] = {}
        self._unsynced_spans: list[SpanContext] = []
        self._trace: TextIO | None = None
        if config.trace:
            self.core.tracer.enabled = True
            self._trace = (config.data_dir / "trace.jsonl").open("a", encoding="utf-8")
            st = self.core.status()
            state = {
                "term": st.term,
                "role": st.role.value,
                "vote": st.vote,
                "last_index": st.last_index,
                "commit": st.commit,
            }
            self._write_trace([{"event": "start", "node": self.id, "state": state}])
        self._guessed: dict[str, int] = {}  # debug_fault ack-before-commit only
        self.security: ClientSecurity | None = None
        self._peer_tls: PeerTls | None = None
        if config.tls is not None:
            files = TlsFiles(config.tls.ca, config.tls.cert, config.tls.key)
            self.security = ClientSecurity(
                files,
                config.tls.client_auth,
                config.tls.superusers,
                config.tls.users,
                lambda name: self.broker.user(name),
            )
            self._peer_tls = PeerTls(
                server_context(files, require_client_cert=True),
                client_context(files, check_hostname=False),
            )

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        self._persist_clock_bound()
        if self.config.metrics_port:
            self.metrics.serve(self.config.host, self.config.metrics_port)
        if self.core.conf.voters == (self.id,):
            self.core.campaign()  # a group of one need not wait an election timeout
        self._tasks = [
            asyncio.create_task(self._drive(), name=f"{self.id}-drive"),
            asyncio.create_task(self._tick(), name=f"{self.id}-tick"),
        ]
        if self.config.peers:
            self.transport = PeerTransport(
                self.id,
                (self.config.host, self.config.peer_port),
                {p.id: (p.host, p.peer_port) for p in self.config.peers},
                deliver=self.step,
                unreachable=self._unreachable,
                tls=self._peer_tls,
                refused=lambda reason: self.metrics.rejected.labels(reason).inc(),
                stamp=self._stamp,
                observe=lambda hlc: self._observe_clock(hlc, "peer"),
            )
            await self.transport.start()
            self.sender = self.transport.send
        if self.disk.fsync_policy.interval_ms is not None:
            self._tasks.append(asyncio.create_task(self._interval_sync()))
        self._wake.set()

    async def close(self) -> None:
        self._closed = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.transport is not None:
            await self.transport.close()
        self._fail_pending("node is shutting down")
        self._fsync_pool.shutdown(wait=True)
        self.disk.sync()
        self.disk.close()
        if self._trace is not None:
            self._trace.close()
        self.tracer.shutdown()

    def step(self, message: Message) -> None:
        """A message from a peer (the transport calls this)."""
        self.core.step(message)
        self._wake.set()

    def skew(self) -> tuple[int, int] | None:
        """This node's estimated clock offset from the cluster and its error bound, in µs
        (None for a single node: it is the cluster's only clock)."""
        if self.transport is None:
            return None
        estimate = self.transport.offsets.cluster_offset(time.time_ns() // 1000)
        return round(estimate.offset_us), round(estimate.error_us)

    def peer_offsets(self) -> dict[str, tuple[float, float]]:
        """Per peer: its clock minus ours and the error bound, in ms (for status and metrics)."""
        if self.transport is None:
            return {}
        now = time.time_ns() // 1000
        offsets = self.transport.offsets
        return {
            p: (e.offset_ms, e.error_ms)
            for p in offsets.peers()
            if (e := offsets.estimate(p, now)) is not None
        }

    def _warn_about_clocks(self) -> None:
        if self.transport is None:
            return
        limit_us = self.config.max_clock_offset_ms * 1000
        beyond = self.transport.offsets.peers_beyond(limit_us, time.time_ns() // 1000)
        if beyond:
            log.warning(
                "%s: clock offset beyond %d ms from %s",
                self.id,
                self.config.max_clock_offset_ms,
                ", ".join(beyond),
            )

    def _unreachable(self, peer: str) -> None:
        self.core.report_unreachable(peer)

    # -- client operations ----------------------------------------------------------------

    @property
    def election_timeout_s(self) -> float:
        return self.config.election_ticks * self.config.tick_ms / 1000

    @property
    def leader(self) -> str | None:
        return self._leader

    @property
    def is_leader(self) -> bool:
        return self._role is Role.LEADER

    async def wait_for_leader(self, timeout: float) -> str:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._leader is None:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise RequestError("unavailable", "no leader elected yet", definite=True)
            self._leader_changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._leader_changed.wait(), remaining)
        return self._leader

    def _stamp(self) -> int:
        """A fresh clock value to send; the persisted bound stays above what leaves the node."""
        now = physical_ms()
        if self.clock.needs_persist(now):
            self._persist_clock_bound()
        return self.clock.now(now)

    def _observe_clock(self, hlc: int, source: Source) -> None:
        """Merge a received hybrid timestamp. A client's, too far ahead, is refused."""
        try:
            self.clock.observe(hlc, physical_ms(), source=source)
        except ClockOffsetError as e:
            raise RequestError("clock-offset", str(e), definite=True) from None
        except ValueError as e:
            raise RequestError("bad-request", str(e), definite=True) from None

    async def publish(
        self,
        topic: str,
        messages: Sequence[NewMessage],
        *,
        acks: str = "quorum",
        observed_hlc: int | None = None,
        traceparent: str | None = None,
    ) -> PublishResult:
        """Append a batch once committed. `observed_hlc`, the largest stamp the client has
        seen, is merged first, so the batch is stamped above it. `traceparent` is stored with
        the batch (followers and deliveries continue that trace) and parents this node's
        spans of the publish."""
        request = self._new_request()
        if observed_hlc is not None:
            self._observe_clock(observed_hlc, "client")
        now = physical_ms()
        if self.clock.needs_persist(now):
            self._persist_clock_bound()
        hlc = self.clock.now(now)
        if self.config.debug_fault == "raw-clock-stamps":
            hlc = now << 16  # the wall clock as it is, logical counter 0
        origin = Origin(self.id, request)
        batch = PublishBatch(topic, tuple(messages), hlc, origin, self.skew(), traceparent)
        if self.config.debug_fault == "ack-before-commit":
            return self._ack_before_commit(request, batch)
        if self.tracer.enabled and traceparent is not None:
            effect, index = await self._traced_propose(request, encode_command(batch), traceparent)
        else:
            effect, index = await self._propose(request, encode_command(batch))
        if not isinstance(effect, Published):
            raise self._rejection(effect)
        if acks == "all":
            await self._replicated_everywhere(index)
        return PublishResult(effect.offsets, effect.duplicate, effect.hlc)

    def _ack_before_commit(self, request: int, batch: PublishBatch) -> PublishResult:
        """The deliberate bug: reply with guessed offsets as soon as the entry is proposed."""
        try:
            self.core.propose(encode_command(batch))
        except ProposalDropped as e:
            raise self._dropped(e) from None
        self._wake.set()
        start = max(self.broker.end_offset(batch.topic), self._guessed.get(batch.topic, 0))
        self._guessed[batch.topic] = start + len(batch.messages)
        return PublishResult(tuple(range(start, start + len(batch.messages))), False)

    async def commit_offset(
        self, group: str, topic: str, offset: int, expect: int | None = None
    ) -> None:
        request = self._new_request()
        command = CommitOffset(group, topic, offset, expect, Origin(self.id, request))
        effect, _ = await self._propose(request, encode_command(command))
        if not isinstance(effect, OffsetCommitted):
            raise self._rejection(effect)

    async def change_access(self, command: PutUser | RemoveUser | ChangeAcl) -> None:
        """Propose a user or ACL change and wait until it applies (or is refused)."""
        request = self._new_request()
        command = replace(command, origin=Origin(self.id, request))
        effect, _ = await self._propose(request, encode_command(command))
        if not isinstance(effect, AccessChanged):
            raise self._rejection(effect)

    async def read_barrier(self) -> None:
        """Return once this node's applied state includes every write acknowledged before the
        call (ReadIndex: the leader confirms it still leads, then we wait to apply that far)."""
        if self.config.debug_fault == "stale-reads":
            return
        if self._leader is None:
            await self.wait_for_leader(timeout=self.election_timeout_s * 4)
        context = os.urandom(12)
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._reads[context] = future
        try:
            self.core.read_index(context)
        except ProposalDropped as e:
            del self._reads[context]
            raise self._dropped(e) from None
        self._wake.set()
        try:
            # A lost READ_INDEX message or a leader change leaves no answer: give up in time.
            index = await asyncio.wait_for(future, self.election_timeout_s * 2)
        except TimeoutError:
            raise RequestError("timeout", "no read index from the leader", definite=True) from None
        finally:
            self._reads.pop(context, None)
        await self.wait_applied(index)

    async def wait_applied(self, index: int) -> None:
        if self.broker.applied_index >= index:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._applied_waiters.append((index, future))
        await future

    def read(
        self,
        topic: str,
        *,
        from_offset: int | None = None,
        last_n: int | None = None,
        from_time_ms: int | None = None,
        max_count: int = 1000,
        max_bytes: int = 1 << 20,
    ) -> ReadResult:
        return self.broker.read(
            topic,
            from_offset=from_offset,
            last_n=last_n,
            from_time_ms=from_time_ms,
            max_count=max_count,
            max_bytes=max_bytes,
            entry_reader=self.disk.entry_data,
        )

    def topic_event(self, topic: str) -> asyncio.Event:
        """An event set the next time messages are applied to `topic` (then replaced)."""
        event = self._topic_events.get(topic)
        if event is None:
            event = self._topic_events[topic] = asyncio.Event()
        return event

    # -- internals: proposals -------------------------------------------------------------

    def _new_request(self) -> int:
        self._next_request += 1
        return self._next_request

    async def _traced_propose(
        self, request: int, data: bytes, parent: str | None
    ) -> tuple[Effect, int]:
        """`_propose` inside a raft.commit span: from the proposal until it applies here."""
        attributes: Attributes = {"wiber.node": self.id}
        with self.tracer.start_span("raft.commit", parent, attributes) as commit:
            effect, index = await self._propose(request, data, parent, commit.context)
            commit.set_attribute("raft.index", index)
            if isinstance(effect, Rejected):
                commit.fail(effect.code, effect.message)
            return effect, index

    async def _propose(
        self,
        request: int,
        data: bytes,
        parent: str | None = None,
        commit_span: SpanContext | None = None,
    ) -> tuple[Effect, int]:
        if self._leader is None:
            await self.wait_for_leader(timeout=self.election_timeout_s * 4)
        future: asyncio.Future[Effect] = asyncio.get_running_loop().create_future()
        self._pending[request] = future
        try:
            if commit_span is None:
                index = self.core.propose(data)
            else:
                attributes: Attributes = {"wiber.node": self.id, "raft.term": self.core.term}
                with self.tracer.start_span("raft.propose", parent, attributes) as span:
                    index = self.core.propose(data)
                    span.set_attribute("raft.index", index)
                self._entry_spans[index] = commit_span
        except ProposalDropped as e:
            del self._pending[request]
            raise self._dropped(e) from None
        self._wake.set()
        try:
            return await future, index
        finally:
            self._pending.pop(request, None)

    async def _replicated_everywhere(self, index: int) -> None:
        """acks=all: wait until every voter holds `index`; an indefinite timeout otherwise."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.election_timeout_s * 4
        while True:
            progress = self.core.status().progress
            voters = [v for v in self.core.conf.voters if v != self.id]
            if all(v in progress and progress[v].match >= index for v in voters):
                return
            if loop.time() >= deadline:
                behind = [v for v in voters if v not in progress or progress[v].match < index]
                raise RequestError(
                    "timeout", f"acks=all: not yet on {behind}; committed", definite=False
                )
            await asyncio.sleep(self.config.tick_ms / 1000)

    async def change_members(self, action: str, node: str) -> None:
        """Add a voter or remove a member, one at a time, and wait until the change applies."""
        change = ConfigChange(
            ConfigChangeType.ADD_VOTER if action == "add" else ConfigChangeType.REMOVE, node
        )
        try:
            index = self.core.propose_conf_change(change)
        except ProposalDropped as e:
            raise self._dropped(e) from None
        term = self.core.term
        self._wake.set()
        await asyncio.wait_for(self.wait_applied(index), self.election_timeout_s * 10)
        if self.disk.term(index) != term:
            raise RequestError("unknown", "leadership changed during the change", definite=False)

    def transfer_leader(self, node: str) -> None:
        try:
            self.core.transfer_leadership(node)
        except ProposalDropped as e:
            raise self._dropped(e) from None
        self._wake.set()

    def _dropped(self, e: ProposalDropped) -> RequestError:
        code = "not-leader" if e.reason == "not-leader" else "unavailable"
        return RequestError(code, str(e), definite=True, leader=self.address_of(e.leader_hint))

    def address_of(self, node_id: str | None) -> str | None:
        """A node's client address (host:port), as clients need it for a leader hint."""
        if node_id == self.id:
            return self.config.client_address
        return next((p.client_address for p in self.config.peers if p.id == node_id), None)

    @staticmethod
    def _rejection(effect: Effect) -> RequestError:
        if isinstance(effect, Rejected):
            return RequestError(effect.code, effect.message, definite=effect.definite)
        return RequestError("internal", f"unexpected effect {effect!r}", definite=False)

    def _fail_pending(self, why: str) -> None:
        # The entries may still commit under a later leader: the outcome is unknown.
        for future in self._pending.values():
            if not future.done():
                future.set_exception(RequestError("unknown", why, definite=False))
        self._pending.clear()
        for read in self._reads.values():
            if not read.done():
                read.set_exception(RequestError("unavailable", why, definite=True))
        self._reads.clear()

    # -- internals: the Ready loop --------------------------------------------------------

    async def _tick(self) -> None:
        interval = self.config.tick_ms / 1000
        ticks = 0
        while True:
            await asyncio.sleep(interval)
            self.core.tick()
            self._wake.set()
            ticks += 1
            if ticks % max(1, 10_000 // self.config.tick_ms) == 0:
                self._warn_about_clocks()

    async def _drive(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self.core.has_ready():
                ready = self.core.ready()
                await self._execute(ready)
                self.core.advance(ready)
                self._observe_soft_state(ready)

    def _write_trace(self, events: list[dict[str, object]]) -> None:
        if self._trace is None or not events:
            return
        hlc = self.clock.now(physical_ms())
        for event in events:
            event["hlc"] = hlc
            self._trace.write(json.dumps(event, separators=(",", ":")) + "\n")
        self._trace.flush()

    async def _execute(self, ready: Ready) -> None:
        # The trace of the steps behind this Ready goes out before its messages do.
        self._write_trace(self.core.events())
        for action in plan(ready):
            match action:
                case InstallSnapshot(snapshot):
                    self.disk.install_snapshot(snapshot)
                    self.broker = BrokerState.restore(snapshot.data)
                    # The bodies of messages before the snapshot are not on this node.
                    self.broker.truncate_before(snapshot.index + 1)
                case Append(entries):
                    with self.metrics.append_latency.time():
                        if self.tracer.enabled:
                            with self._append_spans(entries):
                                self.disk.append(entries, [entry_timestamp(e) for e in entries])
                        else:
                            self.disk.append(entries, [entry_timestamp(e) for e in entries])
                case SaveHardState(hard_state):
                    self.disk.save_hard_state(hard_state)
                case Sync():
                    if self._unsynced_spans:
                        await self._traced_sync()
                    else:
                        await self._sync()
                case Send(messages):
                    self.sender(messages)
                case Apply(entries):
                    self._apply(entries)
                case ServeReads(read_states):
                    for rs in read_states:
                        future = self._reads.get(rs.context)
                        if future is not None and not future.done():
                            future.set_result(rs.index)

    def _append_spans(self, entries: Sequence[Entry]) -> contextlib.ExitStack:
        """Spans around appending `entries` (already open when returned; closing ends them):
        raft.append for each traced entry another node proposed, child of its stored trace
        context. Every traced entry's span is kept for the log.fsync that makes it durable."""
        stack = contextlib.ExitStack()
        for entry in entries:
            own = self._entry_spans.pop(entry.index, None)
            if own is not None:  # proposed here: its raft.commit span stands for it
                self._unsynced_spans.append(own)
                continue
            if entry.kind is not EntryKind.NORMAL:
                continue
            parent = traceparent_of(entry.data)
            if parent is None:
                continue
            attributes: Attributes = {
                "wiber.node": self.id,
                "raft.index": entry.index,
                "raft.term": entry.term,
            }
            span = stack.enter_context(self.tracer.start_span("raft.append", parent, attributes))
            if span.context is not None:
                self._unsynced_spans.append(span.context)
        return stack

    async def _traced_sync(self) -> None:
        """A group commit as one log.fsync span linked to the spans of the entries it syncs."""
        links, self._unsynced_spans = self._unsynced_spans, []
        attributes: Attributes = {"wiber.node": self.id, "wiber.entries": len(links)}
        with self.tracer.start_span("log.fsync", None, attributes, links):
            await self._sync()

    async def _sync(self) -> None:
        policy = self.disk.fsync_policy
        if policy.fsyncs and not policy.syncs_each_append and policy.interval_ms is None:
            loop = asyncio.get_running_loop()
            started = time.perf_counter()
            await loop.run_in_executor(self._fsync_pool, self.disk.sync)
            self.metrics.fsync_latency.observe(time.perf_counter() - started)

    async def _interval_sync(self) -> None:
        interval = (self.disk.fsync_policy.interval_ms or 1000) / 1000
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(interval)
            await loop.run_in_executor(self._fsync_pool, self.disk.sync)

    def _apply(self, entries: Sequence[Entry]) -> None:
        for entry in entries:
            if entry.kind is EntryKind.NORMAL:
                for effect in self.broker.apply(entry.index, entry.data):
                    self._dispatch(effect)
            else:
                self.broker.apply_noop(entry.index)
        applied = self.broker.applied_index
        if applied - self.disk.snapshot().index >= self.config.snapshot_entries:
            self._snapshot(applied)
        if self._applied_waiters:
            still = []
            for index, future in self._applied_waiters:
                if index <= applied:
                    if not future.done():
                        future.set_result(None)
                else:
                    still.append((index, future))
            self._applied_waiters = still

    def _snapshot(self, applied: int) -> None:
        snapshot = Snapshot(
            applied, self.disk.term(applied), self.core.conf_at(applied), self.broker.snapshot()
        )
        self.disk.save_snapshot(snapshot)
        if self.config.retention_entries:
            first = self.disk.compact(applied + 1 - self.config.retention_entries)
            self.broker.truncate_before(first)

    def _dispatch(self, effect: Effect) -> None:
        if isinstance(effect, Appended):
            event = self._topic_events.pop(effect.topic, None)
            if event is not None:
                event.set()
            return
        origin = effect.origin
        if origin is None or origin.node != self.id:
            return
        future = self._pending.get(origin.request)
        if future is not None and not future.done():
            future.set_result(effect)

    def _observe_soft_state(self, ready: Ready) -> None:
        soft = ready.soft_state
        if soft.leader != self._leader:
            self._leader = soft.leader
            self._leader_changed.set()
            self.metrics.leader_changes.inc()
        if soft.role is not self._role:
            was_leader = self._role is Role.LEADER
            self._role = soft.role
            log.info("%s is now %s (leader %s)", self.id, soft.role.value, soft.leader)
            if was_leader:
                self._fail_pending("leadership lost before the request committed")
                self._guessed.clear()
                self._entry_spans.clear()

    def _persist_clock_bound(self) -> None:
        bound = self.clock.persist_bound(physical_ms())
        self._clock_meta.save({"bound": bound})
        self.clock.bound_persisted(bound)


async def run_forever(node: Node, serve: Callable[[Node], Awaitable[None]]) -> None:
    await node.start()
    try:
        await serve(node)
    finally:
        await node.close()
