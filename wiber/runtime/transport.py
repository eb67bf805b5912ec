"""The peer transport: Raft messages between nodes over persistent TCP connections.

Each node dials every peer once and keeps the connection (reconnecting with backoff); messages
to a peer queue up while a write is in progress and leave together in one write (batching).
A full queue drops its oldest messages: Raft tolerates loss, and a slow peer must not make the
leader buffer without bound (back-pressure). Incoming connections start with a hello naming
the peer; anything malformed is counted and dropped, and a broken stream is closed.

With TLS (`PeerTls`), both ends present certificates from the cluster CA, and each checks that
the other's certificate names the node id it claims: the dialler checks the node it dialled,
the listener checks the id in the hello. A mismatch, a failed handshake or a plaintext peer is
refused, counted (`refused`) and logged; nothing it sent reaches Raft.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from wiber.clocks.offset import OffsetEstimator
from wiber.codec import CodecError
from wiber.codec.peer import (
    ClockProbe,
    PeerDecoder,
    decode_body,
    encode_clock,
    encode_hello,
    encode_message,
)
from wiber.core.types import Message
from wiber.security.listen import TlsListener
from wiber.security.tls import names_node, peer_certificate

log = logging.getLogger("wiber.transport")

MAX_QUEUED = 4096


@dataclass
class _Outbox:
    address: tuple[str, int]
    frames: deque[bytes] = field(default_factory=deque)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    connected: bool = False


@dataclass(frozen=True)
class PeerTls:
    server: ssl.SSLContext  # requires a client certificate
    client: ssl.SSLContext  # hostname checking off: the node id is checked instead


@dataclass
class TransportStats:
    sent: int = 0
    received: int = 0
    dropped_queue_full: int = 0
    dropped_malformed: int = 0
    dropped_unknown_peer: int = 0
    connects: int = 0
    refused: int = 0  # connections refused for TLS or identity reasons


class PeerTransport:
    def __init__(
        self,
        node_id: str,
        listen: tuple[str, int],
        peers: dict[str, tuple[str, int]],
        deliver: Callable[[Message], None],
        unreachable: Callable[[str], None] = lambda peer: None,
        *,
        clock_interval: float = 1.0,
        wall_us: Callable[[], int] = lambda: time.time_ns() // 1000,
        tls: PeerTls | None = None,
        refused: Callable[[str], None] = lambda reason: None,
        stamp: Callable[[], int] | None = None,
        observe: Callable[[int], None] = lambda hlc: None,
    ) -> None:
        """`stamp` gives the hybrid clock value sent with each batch of Raft messages and
        `observe` merges the one a peer sent, before its message is delivered: a receive is
        then stamped above its send, so node traces merge in causal order and a new leader's
        stamps follow what it learnt from the old one."""
        self.node_id = node_id
        self.listen = listen
        self.deliver = deliver
        self.unreachable = unreachable
        self.stats = TransportStats()
        self.offsets = OffsetEstimator()
        self._clock_interval = clock_interval
        self._wall_us = wall_us
        self._outboxes = {peer: _Outbox(address) for peer, address in peers.items()}
        self._server: asyncio.Server | TlsListener | None = None
        self._tls = tls
        self._on_refused = refused
        self._stamp = stamp
        self._observe = observe
        self._prober: asyncio.Task[None] | None = None
        self._inbound: dict[asyncio.Task[None], asyncio.StreamWriter] = {}

    async def start(self) -> None:
        host, port = self.listen
        if self._tls is not None:
            listener = TlsListener(
                self._tls.server, self._accept, self._plaintext, self._refuse, limit=1 << 20
            )
            await listener.start(host, port)
            self._server = listener
        else:
            self._server = await asyncio.start_server(self._accept, host, port, limit=1 << 20)
        for peer, outbox in self._outboxes.items():
            outbox.task = asyncio.create_task(self._dial(peer, outbox), name=f"dial-{peer}")
        self._prober = asyncio.create_task(self._probe_clocks(), name="clock-probes")

    async def _probe_clocks(self) -> None:
        """Clock-offset exchanges with every connected peer, at heartbeat-like cadence."""
        while True:
            await asyncio.sleep(self._clock_interval)
            for outbox in self._outboxes.values():
                if outbox.connected:
                    self._queue(outbox, encode_clock(ClockProbe(self.node_id, self._wall_us())))

    def _queue(self, outbox: _Outbox, frame: bytes) -> None:
        if len(outbox.frames) >= MAX_QUEUED:
            outbox.frames.popleft()
            self.stats.dropped_queue_full += 1
        outbox.frames.append(frame)
        outbox.wake.set()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        dialers = [o.task for o in self._outboxes.values() if o.task]
        if self._prober is not None:
            dialers.append(self._prober)
        for task in dialers:
            task.cancel()
        # Inbound handlers end by themselves once their socket closes; cancelling them
        # instead makes asyncio's stream callback log the cancellation as an error.
        for writer in self._inbound.values():
            writer.close()
        for task in [*dialers, *self._inbound]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 1.0)

    def add_peer(self, peer: str, address: tuple[str, int]) -> None:
        if peer in self._outboxes or peer == self.node_id:
            return
        outbox = self._outboxes[peer] = _Outbox(address)
        outbox.task = asyncio.create_task(self._dial(peer, outbox), name=f"dial-{peer}")

    def send(self, messages: Sequence[Message]) -> None:
        # One send event for the batch: its messages leave together.
        hlc = self._stamp() if self._stamp is not None and messages else None
        for msg in messages:
            outbox = self._outboxes.get(msg.dst)
            if outbox is None:
                self.stats.dropped_unknown_peer += 1
                continue
            self._queue(outbox, encode_message(msg, hlc))

    def is_connected(self, peer: str) -> bool:
        outbox = self._outboxes.get(peer)
        return outbox is not None and outbox.connected

    def _refuse(self, reason: str, detail: str) -> None:
        self.stats.refused += 1
        self._on_refused(reason)
        log.warning("%s: refused a peer connection (%s): %s", self.node_id, reason, detail)

    async def _plaintext(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._refuse("peer-plaintext", f"{writer.get_extra_info('peername')} did not use TLS")

    async def _dial(self, peer: str, outbox: _Outbox) -> None:
        delay = 0.05
        while True:
            tls = self._tls.client if self._tls is not None else None
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(*outbox.address, ssl=tls), 2
                )
            except ssl.SSLError as e:
                self._refuse("peer-tls", f"dialling {peer}: {e}")
                reader = None
            except (OSError, TimeoutError):
                reader = None
            if reader is not None and tls is not None:
                cert = peer_certificate(writer.get_extra_info("ssl_object"))
                if not names_node(cert, peer):
                    self._refuse("peer-identity", f"{outbox.address} is not {peer}")
                    writer.close()
                    reader = None
            if reader is None:
                outbox.frames.clear()  # stale by the time we get through; Raft resends
                self.unreachable(peer)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
                continue
            delay = 0.05
            self.stats.connects += 1
            outbox.connected = True
            try:
                writer.write(encode_hello(self.node_id))
                await self._pump(outbox, writer)
            except (ConnectionError, OSError):
                pass
            finally:
                outbox.connected = False
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()
            self.unreachable(peer)
            del reader

    async def _pump(self, outbox: _Outbox, writer: asyncio.StreamWriter) -> None:
        while True:
            if not outbox.frames:
                outbox.wake.clear()
                await outbox.wake.wait()
            batch = b"".join(outbox.frames)
            self.stats.sent += len(outbox.frames)
            outbox.frames.clear()
            writer.write(batch)
            await writer.drain()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._inbound[task] = writer
        decoder = PeerDecoder()
        peer: str | None = None
        cert = None
        if self._tls is not None:
            cert = peer_certificate(writer.get_extra_info("ssl_object"))
        try:
            while data := await reader.read(1 << 16):
                for body in decoder.feed(data):
                    claimed = self._receive(peer, body)
                    if (
                        claimed is not None
                        and claimed != peer
                        and self._tls is not None
                        and not names_node(cert, claimed)
                    ):
                        self._refuse("peer-identity", f"a peer claimed to be {claimed}")
                        return
                    peer = claimed
        except CodecError as e:
            self.stats.dropped_malformed += 1
            log.warning("closing peer stream from %s: %s", peer or "?", e)
        except (ConnectionError, OSError):
            pass
        finally:
            if task is not None:
                self._inbound.pop(task, None)
            writer.close()

    def _clock(self, peer: str | None, probe: ClockProbe) -> None:
        now = self._wall_us()
        if peer is None or probe.src != peer:
            self.stats.dropped_malformed += 1
            return
        if probe.t2 is None:  # a request: answer on our own connection to the peer
            outbox = self._outboxes.get(peer)
            if outbox is not None:
                answer = ClockProbe(self.node_id, probe.t1, now, self._wall_us())
                self._queue(outbox, encode_clock(answer))
        elif probe.t3 is not None:
            self.offsets.add(peer, probe.t1, probe.t2, probe.t3, now)

    def _receive(self, peer: str | None, body: bytes) -> str | None:
        try:
            decoded = decode_body(body)
        except CodecError as e:
            self.stats.dropped_malformed += 1
            log.warning("dropped a malformed frame from %s: %s", peer or "?", e)
            return peer
        if isinstance(decoded, str):
            return decoded
        if isinstance(decoded, ClockProbe):
            self._clock(peer, decoded)
            return peer
        message = decoded.message
        if peer is None or message.src != peer or message.dst != self.node_id:
            self.stats.dropped_malformed += 1
            return peer
        self.stats.received += 1
        if decoded.hlc is not None:
            self._observe(decoded.hlc)
        self.deliver(message)
        return peer
