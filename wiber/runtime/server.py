"""The client listener: one port, both protocols, told apart by the first bytes.

A line-protocol session answers the seed's verbs in order; a framed session handles each request
in its own task so that a client can pipeline, and pushes deliveries for its subscriptions.
Protocol errors are answered and the connection stays usable where the protocol allows; nothing
a client sends can take the node down.

With security on (`tls:` in the configuration) the port speaks TLS only. A framed session then
has a principal, from its client certificate or a SCRAM exchange (`Authenticate`), before it
may send anything but Hello, Ping and Authenticate; every request is checked against the
replicated ACL rules before it touches the node, so a denied publish is never proposed. The
line protocol has no authentication: it is answered with an `ERR` and closed.

With tracing on (`wiber.runtime.tracing`), a framed publish runs inside a `wiber.publish`
span, child of the client's trace context; that span's context is what the batch stores, so
the node's Raft spans, the followers' appends and every delivery hang below it. A push of
traced messages is a `wiber.deliver` span, child of the stored context.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Final

from wiber.broker import BrokerMessage, ChangeAcl, NewMessage, PutUser, ReadError, RemoveUser
from wiber.codec import CodecError, sniff
from wiber.codec import line as ln
from wiber.codec import messages as m
from wiber.codec.framed import Frame, FrameDecoder, FrameError, encode
from wiber.runtime.forward import Forwarder
from wiber.runtime.node import Node, RequestError
from wiber.runtime.tracing import Attributes
from wiber.security.listen import TlsListener
from wiber.security.scram import MECHANISM, AuthError, ScramServer

log = logging.getLogger("wiber.server")

READ_CHUNK = 1 << 16
PAGE = 1000


def resolve_start(
    node: Node,
    topic: str,
    *,
    from_offset: int | None = None,
    last_n: int | None = None,
    from_time_ms: int | None = None,
) -> int:
    """The offset a read starts at; the newest end when no position is given (live only)."""
    if from_offset is not None:
        return max(from_offset, node.broker.log_start_offset(topic))
    if last_n is not None:
        return max(node.broker.log_start_offset(topic), node.broker.end_offset(topic) - last_n)
    if from_time_ms is not None:
        result = node.read(topic, from_time_ms=from_time_ms, max_count=1)
        return result.messages[0].offset if result.messages else result.next_offset
    return node.broker.end_offset(topic)


async def pages(
    node: Node, topic: str, start: int, *, follow: bool, limit: int | None = None
) -> AsyncIterator[list[BrokerMessage]]:
    """Pages of `topic` from offset `start`; with `follow`, then live pages forever.

    History and live delivery are one loop over offsets, so there is no gap and no duplicate
    where one turns into the other. The topic's event is taken before each read, so a message
    applied between the read and the wait still wakes us.
    """
    sent = 0
    while limit is None or sent < limit:
        event = node.topic_event(topic)
        want = PAGE if limit is None else min(PAGE, limit - sent)
        result = node.read(topic, from_offset=start, max_count=want)
        if result.messages:
            sent += len(result.messages)
            yield result.messages
        start = result.next_offset
        if start >= node.broker.end_offset(topic):
            if not follow:
                return
            await event.wait()


LINE_REFUSED: Final = (
    "auth-required: security is on and the line protocol has no authentication; "
    "use the framed protocol over TLS (wiber pub/sub --tls-ca ...)"
)
TLS_REQUIRED: Final = "tls-required: this node accepts TLS connections only"


async def serve_client(
    node: Node, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    peer = writer.get_extra_info("peername")
    try:
        first = b""
        while sniff(first) == "need-more":
            chunk = await reader.read(READ_CHUNK)
            if not chunk:
                return
            first += chunk
        if sniff(first) == "framed":
            await FramedSession(node, reader, writer).run(first)
        elif node.security is not None:
            node.metrics.rejected.labels("auth-required").inc()
            writer.write(ln.err(LINE_REFUSED))
            await writer.drain()
        else:
            await LineSession(node, reader, writer).run(first)
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    except Exception:
        log.exception("client session %s failed", peer)
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


class LineSession:
    """The seed's text protocol: one command per line, answered in order."""

    def __init__(self, node: Node, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.node = node
        self.reader = reader
        self.writer = writer
        self.decoder = ln.LineDecoder(node.config.max_line_bytes)
        self.subscriptions: dict[str, asyncio.Task[None]] = {}
        self.forwarder = Forwarder(node)

    async def run(self, first: bytes) -> None:
        data = first
        try:
            while data:
                for item in self.decoder.feed(data):
                    if isinstance(item, ln.LineError):
                        self.writer.write(item.reply())
                    elif not await self.handle(item):
                        return
                await self.writer.drain()
                data = await self.reader.read(READ_CHUNK)
            for item in self.decoder.feed_eof():
                if isinstance(item, ln.LineError):
                    self.writer.write(item.reply())
        finally:
            for task in self.subscriptions.values():
                task.cancel()
            await self.forwarder.close()

    async def handle(self, command: ln.LineCommand) -> bool:
        try:
            match command:
                case ln.Ping():
                    self.writer.write(ln.pong())
                case ln.Quit():
                    self.writer.write(ln.bye())
                    await self.writer.drain()
                    return False
                case ln.Pub(topic, message):
                    offset = await self.forwarder.publish(topic, message.encode())
                    self.writer.write(ln.published(topic, offset))
                case ln.Sub(topic, from_offset):
                    await self.subscribe(topic, from_offset)
                case ln.History(topic, n):
                    await self.history(topic, n)
                case ln.Fetch(topic, offset, n):
                    await self.fetch(topic, offset, n)
        except RequestError as e:
            self.writer.write(ln.err(f"{e.code}: {e.message}"))
        except ReadError as e:
            self.writer.write(ln.err(f"bad-request: {e}"))
        return True

    async def subscribe(self, topic: str, from_offset: int | None) -> None:
        if topic in self.subscriptions:
            self.writer.write(ln.err(f"already subscribed to {topic}"))
            return
        await self.node.read_barrier()
        start = resolve_start(self.node, topic, from_offset=from_offset)
        self.writer.write(ln.subscribed(topic, from_offset))
        self.subscriptions[topic] = asyncio.create_task(self._deliver(topic, start))

    async def _deliver(self, topic: str, start: int) -> None:
        async for page in pages(self.node, topic, start, follow=True):
            for msg in page:
                self.writer.write(ln.msg_line(topic, msg.hlc, msg.payload))
            await self.writer.drain()

    async def history(self, topic: str, n: int) -> None:
        await self.node.read_barrier()
        count = 0
        if n > 0:
            start = resolve_start(self.node, topic, last_n=n)
            async for page in pages(self.node, topic, start, follow=False, limit=n):
                for msg in page:
                    self.writer.write(ln.history_line(topic, msg.hlc, msg.payload))
                count += len(page)
                await self.writer.drain()
        self.writer.write(ln.history_done(topic, count))

    async def fetch(self, topic: str, offset: int, n: int) -> None:
        await self.node.read_barrier()
        count = 0
        next_offset = offset
        if n > 0:
            async for page in pages(self.node, topic, offset, follow=False, limit=n):
                for msg in page:
                    self.writer.write(ln.history_line(topic, msg.hlc, msg.payload))
                count += len(page)
                next_offset = page[-1].offset + 1
                await self.writer.drain()
        self.writer.write(ln.fetch_done(topic, count, next_offset))


def count_out(node: Node, topic: str, messages: list[BrokerMessage]) -> None:
    node.metrics.messages_out.labels(topic).inc(len(messages))
    node.metrics.bytes_out.labels(topic).inc(sum(len(x.payload) for x in messages))


def stored(msg: BrokerMessage, node: str) -> m.StoredMessage:
    return m.StoredMessage(
        topic=msg.topic,
        offset=msg.offset,
        hlc=msg.hlc,
        producer_id=msg.producer_id,
        seq=msg.seq,
        create_time_ms=msg.create_time_ms,
        payload=msg.payload,
        node=node,
        deps=msg.deps,
        skew_offset_us=msg.skew_offset_us,
        skew_error_us=msg.skew_error_us,
        traceparent=msg.traceparent,
    )


Handler = Callable[[m.Message], Awaitable[m.Message]]


class FramedSession:
    """The binary protocol: pipelined requests, each answered with its request id."""

    def __init__(self, node: Node, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.node = node
        self.reader = reader
        self.writer = writer
        self.decoder = FrameDecoder(max_frame_bytes=node.config.max_frame_bytes, expect_magic=True)
        self.tasks: set[asyncio.Task[None]] = set()
        self.subscriptions: dict[int, asyncio.Task[None]] = {}
        self.next_subscription = 0
        self.greeted = False
        self.client_id: str | None = None  # what the client called itself in Hello
        security = node.security
        self.principal: str | None = (
            None
            if security is None
            else security.initial_principal(writer.get_extra_info("ssl_object"))
        )
        self.scram: ScramServer | None = None

    async def run(self, first: bytes) -> None:
        data = first
        try:
            while data:
                try:
                    frames = self.decoder.feed(data)
                except CodecError as e:
                    self.send(Frame(0, m.Error("bad-request", str(e), definite=True)))
                    return
                for frame in frames:
                    if isinstance(frame, FrameError):
                        self.send(frame.reply())
                    else:
                        task = asyncio.create_task(self.answer(frame))
                        self.tasks.add(task)
                        task.add_done_callback(self.tasks.discard)
                await self.writer.drain()
                data = await self.reader.read(READ_CHUNK)
        finally:
            for task in [*self.tasks, *self.subscriptions.values()]:
                task.cancel()

    def send(self, frame: Frame) -> None:
        self.writer.write(encode(frame, max_frame_bytes=self.node.config.max_frame_bytes))

    async def answer(self, frame: Frame) -> None:
        started = time.perf_counter()
        if self.node.tracer.enabled and isinstance(frame.message, m.Publish):
            reply = await self.traced_publish(frame.request_id, frame.message)
        else:
            reply = await self.reply(frame.message)
        metrics = self.node.metrics
        context = {"request": frame.request_id, "client": self.client_id}
        if isinstance(reply, m.Error):
            metrics.rejected.labels(reply.code).inc()
            # A follower turning clients to the leader is routine; every other refusal is news.
            log.log(
                logging.DEBUG if reply.code == "not-leader" else logging.INFO,
                "%s: %s refused: %s: %s",
                self.node.id,
                type(frame.message).__name__,
                reply.code,
                reply.message,
                extra={**context, "code": reply.code, "definite": reply.definite},
            )
        else:
            if log.isEnabledFor(logging.DEBUG):
                log.debug(
                    "%s: %s answered in %.2f ms",
                    self.node.id,
                    type(frame.message).__name__,
                    (time.perf_counter() - started) * 1000,
                    extra=context,
                )
            if isinstance(frame.message, m.Publish):
                request = frame.message
                latency = time.perf_counter() - started
                metrics.publish_latency.labels(request.acks).observe(latency)
                metrics.messages_in.labels(request.topic).inc(len(request.messages))
                metrics.bytes_in.labels(request.topic).inc(
                    sum(len(x.payload) for x in request.messages)
                )
        self.send(Frame(frame.request_id, reply))
        await self.writer.drain()

    async def reply(self, request: m.Message) -> m.Message:
        """The answer to `request`: its handler's, or the `Error` its failure maps to."""
        try:
            return await self.handle(request)
        except RequestError as e:
            return m.Error(e.code, e.message, definite=e.definite, leader_hint=e.leader)
        except (ReadError, CodecError, ValueError) as e:
            return m.Error("bad-request", str(e), definite=True)

    async def traced_publish(self, request_id: int, request: m.Publish) -> m.Message:
        """A publish inside its wiber.publish span; the span's context replaces the client's
        in the stored batch, so what follows on every node hangs below this span."""
        attributes: Attributes = {
            "wiber.topic": request.topic,
            "wiber.count": len(request.messages),
            "wiber.acks": request.acks,
            "wiber.node": self.node.id,
            "wiber.request_id": request_id,
        }
        tracer = self.node.tracer
        with tracer.start_span("wiber.publish", request.traceparent, attributes) as span:
            if span.traceparent is not None:
                request = dataclasses.replace(request, traceparent=span.traceparent)
            reply = await self.reply(request)
            if isinstance(reply, m.Error):
                span.fail(reply.code, reply.message)
            return reply

    def authorize(self, request: m.Message) -> m.Error | None:
        """Why this session may not make `request` (an `Error` to answer), or None."""
        security = self.node.security
        if security is None or isinstance(request, m.Hello | m.Ping | m.Authenticate):
            return None
        principal = self.principal
        if principal is None:
            return m.Error(
                "auth-required",
                "authenticate first: a client certificate or SCRAM-SHA-256 (--user/--password)",
                definite=True,
            )
        match request:
            case m.Publish(topic=topic):
                operation, resource = "publish", topic
            case m.Fetch(topic=topic) | m.Subscribe(topic=topic) | m.FetchOffset(topic=topic):
                operation, resource = "subscribe", topic
            case m.CommitOffset(reset=True):
                operation, resource = "admin", "*"
            case m.CommitOffset(topic=topic):
                operation, resource = "subscribe", topic
            case m.Metadata() | m.Status() | m.Unsubscribe():
                return None
            case _:
                operation, resource = "admin", "*"
        if self.node.broker.allows(security.superusers, principal, operation, resource):
            return None
        where = "the cluster" if resource == "*" else f"topic {resource!r}"
        return m.Error(
            "denied",
            f"principal {principal!r} may not {operation} on {where} "
            f"({type(request).__name__} refused; see `wiber acl list`)",
            definite=True,
        )

    async def authenticate(self, request: m.Authenticate) -> m.Message:
        security = self.node.security
        if security is None:
            return m.Error("bad-request", "security is off: nothing to authenticate", True)
        if request.mechanism != MECHANISM:
            return m.Error("auth-failed", f"unsupported mechanism {request.mechanism!r}", True)
        try:
            if self.scram is None:
                self.scram = security.scram_server()
                challenge = self.scram.first(request.data.decode("utf-8"))
                return m.AuthReply(challenge.encode())
            scram, self.scram = self.scram, None
            user, proof = scram.final(request.data.decode("utf-8"))
        except (AuthError, ValueError, UnicodeDecodeError) as e:
            self.scram = None
            log.info("%s: authentication failed: %s", self.node.id, e)
            return m.Error("auth-failed", "authentication failed: wrong user or password", True)
        self.principal = user
        return m.AuthReply(proof.encode(), principal=user)

    async def handle(self, request: m.Message) -> m.Message:
        node = self.node
        refusal = self.authorize(request)
        if refusal is not None:
            return refusal
        match request:
            case m.Hello(versions, client_id):
                version = m.choose_version(versions)
                if version is None:
                    return m.Error("unsupported-version", f"no common version in {versions}", True)
                self.greeted = True
                self.client_id = client_id
                return m.HelloOk(version, node.id)
            case m.Ping():
                return m.Pong()
            case m.Publish(topic, messages, acks, hlc, traceparent):
                result = await node.publish(
                    topic,
                    [
                        NewMessage(x.payload, x.producer_id, x.seq, x.create_time_ms, x.deps)
                        for x in messages
                    ],
                    acks=acks,
                    observed_hlc=hlc,
                    traceparent=traceparent,
                )
                return m.PublishOk(list(result.offsets), result.hlc)
            case m.Fetch():
                return await self.fetch(request)
            case m.Subscribe():
                return await self.subscribe(request)
            case m.Unsubscribe(subscription_id):
                task = self.subscriptions.pop(subscription_id, None)
                if task is None:
                    return m.Error(
                        "unknown-subscription", f"no subscription {subscription_id}", True
                    )
                task.cancel()
                return m.Ok()
            case m.CommitOffset(group, topic, offset, expect, _):
                await node.commit_offset(group, topic, offset, expect)
                return m.Ok()
            case m.FetchOffset(group, topic):
                await node.read_barrier()
                return m.OffsetOk(node.broker.committed_offset(group, topic))
            case m.Metadata():
                members = [
                    m.Member(v, address)
                    for v in node.core.conf.voters
                    if (address := node.address_of(v)) is not None
                ]
                return m.MetadataOk(members, node.leader)
            case m.Status():
                return self.status()
            case m.ChangeMembers(action, target):
                await node.change_members(action, target)
                return m.Ok()
            case m.TransferLeader(target):
                node.transfer_leader(target)
                return m.Ok()
            case m.Authenticate():
                return await self.authenticate(request)
            case m.PutUser(name, salt, iterations, stored_key, server_key):
                await node.change_access(PutUser(name, salt, iterations, stored_key, server_key))
                return m.Ok()
            case m.RemoveUser(name):
                await node.change_access(RemoveUser(name))
                return m.Ok()
            case m.ChangeAcl(action, principal, operation, pattern):
                await node.change_access(ChangeAcl(action, principal, operation, pattern))
                return m.Ok()
            case m.ListAcls():
                await node.read_barrier()
                rules = [(r.principal, r.operation, r.pattern) for r in node.broker.acl_rules()]
                return m.AclList(rules, node.broker.users())
        return m.Error("bad-request", f"{type(request).__name__} is not a request", True)

    def status(self) -> m.StatusOk:
        st = self.node.core.status()
        skew = self.node.skew()
        return m.StatusOk(
            id=self.node.id,
            role=st.role.value,
            term=st.term,
            leader=st.leader,
            commit_index=st.commit,
            applied_index=self.node.broker.applied_index,
            last_index=st.last_index,
            voters=list(st.conf.voters),
            pid=os.getpid(),
            clock_offset_ms=None if skew is None else skew[0] / 1000,
        )

    async def fetch(self, request: m.Fetch) -> m.Message:
        if not request.stale_ok:
            await self.node.read_barrier()
        result = self.node.read(
            request.topic,
            from_offset=request.from_offset,
            last_n=request.last_n,
            from_time_ms=request.from_time_ms,
            max_count=request.max_count,
            max_bytes=request.max_bytes,
        )
        count_out(self.node, request.topic, result.messages)
        return m.FetchOk(
            [stored(x, self.node.id) for x in result.messages],
            result.next_offset,
            result.log_start_offset,
        )

    async def subscribe(self, request: m.Subscribe) -> m.Message:
        node = self.node
        await node.read_barrier()
        from_offset = request.from_offset
        if request.group is not None and from_offset is None:
            from_offset = node.broker.committed_offset(request.group, request.topic)
        start = resolve_start(
            node,
            request.topic,
            from_offset=from_offset,
            last_n=request.last_n,
            from_time_ms=request.from_time_ms,
        )
        self.next_subscription += 1
        sid = self.next_subscription
        iterator = pages(node, request.topic, start, follow=True)
        self.subscriptions[sid] = asyncio.create_task(self._push(sid, iterator))
        return m.SubscribeOk(sid, start)

    async def _push(self, sid: int, iterator: AsyncIterator[list[BrokerMessage]]) -> None:
        tracer = self.node.tracer
        async for page in iterator:
            count_out(self.node, page[0].topic, page)
            frame = Frame(0, m.Delivery(sid, [stored(x, self.node.id) for x in page]))
            if tracer.enabled and any(x.traceparent is not None for x in page):
                with self._delivery_spans(sid, page):
                    self.send(frame)
                    await self.writer.drain()
            else:
                self.send(frame)
                await self.writer.drain()

    def _delivery_spans(self, sid: int, page: list[BrokerMessage]) -> contextlib.ExitStack:
        """One open wiber.deliver span per trace context in the page (one per batch, mostly),
        child of that context; closing the stack ends them."""
        runs: dict[str, list[BrokerMessage]] = {}
        for msg in page:
            if msg.traceparent is not None:
                runs.setdefault(msg.traceparent, []).append(msg)
        stack = contextlib.ExitStack()
        for parent, messages in runs.items():
            attributes: Attributes = {
                "wiber.topic": messages[0].topic,
                "wiber.subscription": sid,
                "wiber.offset": messages[0].offset,
                "wiber.count": len(messages),
                "wiber.node": self.node.id,
            }
            stack.enter_context(self.node.tracer.start_span("wiber.deliver", parent, attributes))
        return stack


async def refuse_plaintext(
    node: Node, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """A client that did not start TLS: tell it so in its own protocol, then close."""
    node.metrics.rejected.labels("tls-required").inc()
    first = b""
    with contextlib.suppress(TimeoutError, ConnectionError):
        while sniff(first) == "need-more":
            chunk = await asyncio.wait_for(reader.read(READ_CHUNK), 5)
            if not chunk:
                return
            first += chunk
    if sniff(first) == "framed":
        writer.write(encode(Frame(0, m.Error("tls-required", TLS_REQUIRED, definite=True))))
    else:
        writer.write(ln.err(TLS_REQUIRED))
    with contextlib.suppress(ConnectionError):
        await writer.drain()


async def serve(node: Node, ready: asyncio.Event | None = None) -> None:
    """Listen on the node's client port until cancelled."""
    if node.security is not None:
        listener = TlsListener(
            node.security.context,
            lambda r, w: serve_client(node, r, w),
            lambda r, w: refuse_plaintext(node, r, w),
            lambda reason, detail: _refused(node, reason, detail),
            limit=READ_CHUNK,
        )
        await listener.start(node.config.host, node.config.client_port)
        log.info("%s serving TLS clients on %s", node.id, node.config.client_address)
        if ready is not None:
            ready.set()
        try:
            await listener.serve_forever()
        finally:
            listener.close()
        return
    server = await asyncio.start_server(
        lambda r, w: serve_client(node, r, w),
        host=node.config.host,
        port=node.config.client_port,
        limit=READ_CHUNK,
    )
    log.info("%s serving clients on %s", node.id, node.config.client_address)
    if ready is not None:
        ready.set()
    async with server:
        await server.serve_forever()


def _refused(node: Node, reason: str, detail: str) -> None:
    node.metrics.rejected.labels(reason).inc()
    log.info("%s refused a client connection (%s): %s", node.id, reason, detail)
