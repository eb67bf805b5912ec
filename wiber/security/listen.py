"""A TLS listener that looks at each connection's first byte before the handshake.

asyncio's `start_server(ssl=...)` fails a handshake silently from the application's point of
view: a plaintext client just sees the connection drop, and the server cannot count why. Here
each accepted socket is peeked at first: a TLS ClientHello (record type 0x16) gets the
handshake, whose failures are reported to `refused`; anything else goes to `plaintext` as an
ordinary stream, so that it can be told in its own protocol why it is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable

log = logging.getLogger("wiber.security")

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
TLS_HANDSHAKE = 0x16
HANDSHAKE_TIMEOUT = 10.0


class TlsListener:
    def __init__(
        self,
        context: ssl.SSLContext,
        handler: Handler,
        plaintext: Handler,
        refused: Callable[[str, str], None],
        *,
        limit: int = 1 << 16,
    ) -> None:
        self.context = context
        self.handler = handler
        self.plaintext = plaintext
        self.refused = refused
        self.limit = limit
        self._socket: socket.socket | None = None
        self._accepting: asyncio.Task[None] | None = None
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self, host: str, port: int) -> None:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
        family, _, _, _, address = infos[0]
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError:
            sock.close()
            raise
        sock.listen(128)
        sock.setblocking(False)
        self._socket = sock
        self._accepting = asyncio.create_task(self._accept_forever(sock), name=f"tls-{port}")

    async def serve_forever(self) -> None:
        if self._accepting is not None:
            await self._accepting

    def close(self) -> None:
        if self._accepting is not None:
            self._accepting.cancel()
        if self._socket is not None:
            self._socket.close()
        for task in self._connections:
            task.cancel()

    async def _accept_forever(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            conn, address = await loop.sock_accept(sock)
            task = asyncio.create_task(self._connection(conn, address))
            self._connections.add(task)
            task.add_done_callback(self._connections.discard)

    async def _connection(self, conn: socket.socket, address: object) -> None:
        loop = asyncio.get_running_loop()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            first = await asyncio.wait_for(_peek(loop, conn), HANDSHAKE_TIMEOUT)
        except (TimeoutError, OSError):
            conn.close()
            return
        if not first:
            conn.close()
            return
        tls = first[0] == TLS_HANDSHAKE
        reader = asyncio.StreamReader(limit=self.limit)
        protocol = asyncio.StreamReaderProtocol(reader)
        try:
            transport, _ = await loop.connect_accepted_socket(
                lambda: protocol,
                conn,
                ssl=self.context if tls else None,
                ssl_handshake_timeout=HANDSHAKE_TIMEOUT if tls else None,
            )
        except (ssl.SSLError, OSError, TimeoutError, ConnectionError) as e:
            self.refused("tls-handshake", f"{address}: {e}")
            conn.close()
            return
        writer = asyncio.StreamWriter(transport, protocol, reader, loop)
        try:
            await (self.handler if tls else self.plaintext)(reader, writer)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


async def _peek(loop: asyncio.AbstractEventLoop, conn: socket.socket) -> bytes:
    readable: asyncio.Future[None] = loop.create_future()

    def ready() -> None:
        if not readable.done():
            readable.set_result(None)

    loop.add_reader(conn.fileno(), ready)
    try:
        await readable
    finally:
        loop.remove_reader(conn.fileno())
    return conn.recv(1, socket.MSG_PEEK)
