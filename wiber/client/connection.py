"""One framed-protocol connection to one node: requests by id, pipelined; pushes routed.

Every failure a caller sees is a `ClientError` with `definite` telling whether the operation
certainly did not happen (a lost connection after sending a publish is *not* definite).

With `Credentials` holding a CA, the connection is TLS (1.3); with a user and password it then
authenticates by SCRAM-SHA-256 right after the hello, and with a certificate and key the
certificate itself is the identity.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import os
import secrets
import ssl
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from wiber.codec import MAGIC, CodecError
from wiber.codec import messages as m
from wiber.codec.framed import Frame, FrameDecoder, FrameError, encode
from wiber.security.scram import MECHANISM, AuthError, ScramClient
from wiber.security.tls import TlsError, TlsFiles, client_context

DEFAULT_PORT = 7070


class ClientError(Exception):
    def __init__(
        self, code: str, message: str, *, definite: bool, leader_hint: str | None = None
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.definite = definite
        self.leader_hint = leader_hint

    def after_attempts(self, maybe_applied: bool) -> ClientError:
        """This error as the outcome of a retried request: once any earlier attempt may have
        taken effect, a later definite refusal (no leader, say) no longer means it did not."""
        if not self.definite or not maybe_applied:
            return self
        return ClientError(
            self.code,
            f"{self.message} (an earlier attempt may have taken effect)",
            definite=False,
            leader_hint=self.leader_hint,
        )


@dataclass(frozen=True)
class Credentials:
    """How a client proves who it is: TLS files and/or a SCRAM user and password."""

    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    user: str | None = None
    password: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **explicit: str | None) -> Credentials:
        """Explicit values (command-line options) win over WIBER_TLS_CA, WIBER_TLS_CERT,
        WIBER_TLS_KEY, WIBER_USER and WIBER_PASSWORD."""
        env = os.environ if env is None else env
        fields = ("ca", "cert", "key", "user", "password")
        names = {"ca": "TLS_CA", "cert": "TLS_CERT", "key": "TLS_KEY"}
        values = {
            f: explicit.get(f) or env.get("WIBER_" + names.get(f, f.upper())) or None
            for f in fields
        }
        return cls(**values)

    @property
    def tls(self) -> bool:
        return self.ca is not None

    @functools.cached_property
    def _context(self) -> ssl.SSLContext:
        if self.ca is None:
            raise ClientError("bad-config", "TLS needs a CA certificate (--tls-ca)", definite=True)
        files = TlsFiles(
            Path(self.ca),
            Path(self.cert) if self.cert else None,
            Path(self.key) if self.key else None,
        )
        try:
            return client_context(files)
        except TlsError as e:
            raise ClientError("bad-config", str(e), definite=True) from None

    def ssl_context(self) -> ssl.SSLContext | None:
        return self._context if self.tls else None


def parse_address(address: str, default_port: int = DEFAULT_PORT) -> tuple[str, int]:
    host, sep, port = address.strip().rpartition(":")
    if not sep:
        return address.strip(), default_port
    try:
        return host or "127.0.0.1", int(port)
    except ValueError:
        raise ClientError("bad-address", f"bad address {address!r}", definite=True) from None


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, address: str):
        self.address = address
        self.node_id = "?"
        self.principal: str | None = None
        self._reader = reader
        self._writer = writer
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[m.Message]] = {}
        self._deliveries: dict[int, asyncio.Queue[m.Delivery | None]] = {}
        self._closed: ClientError | None = None
        self._read_task = asyncio.create_task(self._read_loop())

    @classmethod
    async def open(
        cls, address: str, *, timeout: float = 5.0, credentials: Credentials | None = None
    ) -> Connection:
        host, port = parse_address(address)
        credentials = credentials or Credentials()
        context = credentials.ssl_context()
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port, limit=1 << 20, ssl=context), timeout
            )
        except ssl.SSLError as e:
            raise ClientError(
                "tls-failed", f"TLS with {address} failed: {e.reason or e}", definite=True
            ) from None
        except (OSError, TimeoutError) as e:
            raise ClientError(
                "unavailable", f"cannot connect to {address}: {e}", definite=True
            ) from None
        writer.write(MAGIC)
        conn = cls(reader, writer, address)
        try:
            hello = await conn.request(m.Hello([1], f"client-{uuid.uuid4().hex[:12]}"), timeout)
            if not isinstance(hello, m.HelloOk):
                raise ClientError(
                    "unsupported-version", f"{address} refused the handshake", definite=True
                )
            conn.node_id = hello.node_id
            if credentials.user is not None:
                await conn._authenticate(credentials.user, credentials.password or "", timeout)
        except ClientError as e:
            await conn.close()
            if e.code == "unavailable" and context is not None:
                # A TLS 1.3 server checks the client certificate after the client's side of
                # the handshake is done, so a refused certificate shows up as a closed stream.
                raise ClientError(
                    "tls-failed",
                    f"{address} closed the TLS connection (certificate refused?): {e.message}",
                    definite=True,
                ) from None
            raise
        return conn

    async def _authenticate(self, user: str, password: str, timeout: float) -> None:
        scram = ScramClient(user, password, secrets.token_urlsafe(18))
        try:
            first = await self.request(m.Authenticate(MECHANISM, scram.first().encode()), timeout)
            if not isinstance(first, m.AuthReply):
                raise AuthError(f"unexpected {type(first).__name__}")
            final = scram.final(first.data.decode())
            done = await self.request(m.Authenticate(MECHANISM, final.encode()), timeout)
            if not isinstance(done, m.AuthReply) or done.principal is None:
                raise AuthError("the server did not complete the exchange")
            scram.verify(done.data.decode())
        except (AuthError, UnicodeDecodeError) as e:
            raise ClientError("auth-failed", f"{self.address}: {e}", definite=True) from None
        self.principal = done.principal

    @property
    def closed(self) -> bool:
        return self._closed is not None

    async def request(self, message: m.Message, timeout: float | None = 10.0) -> m.Message:
        """Send one request and wait for its answer. `Error` answers are raised."""
        if self._closed is not None:
            raise self._closed
        request_id = next(self._ids)
        future: asyncio.Future[m.Message] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        try:
            self._writer.write(encode(Frame(request_id, message)))
            await self._writer.drain()
            reply = await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise ClientError("timeout", f"no answer from {self.address}", definite=False) from None
        except (ConnectionError, OSError) as e:
            raise ClientError("unavailable", str(e), definite=False) from None
        finally:
            self._waiting.pop(request_id, None)
            if future.done() and not future.cancelled():
                future.exception()  # a shutdown may fail it after a write error won the race
        if isinstance(reply, m.Error):
            raise ClientError(
                reply.code, reply.message, definite=reply.definite, leader_hint=reply.leader_hint
            )
        return reply

    def deliveries(self, subscription_id: int) -> asyncio.Queue[m.Delivery | None]:
        """The queue of pushes for a subscription; None in it means the connection closed."""
        queue = self._deliveries.get(subscription_id)
        if queue is None:
            queue = self._deliveries[subscription_id] = asyncio.Queue()
        return queue

    async def close(self) -> None:
        self._shutdown(ClientError("closed", "connection closed", definite=True))
        self._read_task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._read_task
        self._writer.close()
        with contextlib.suppress(Exception):
            await self._writer.wait_closed()

    async def _read_loop(self) -> None:
        decoder = FrameDecoder()
        try:
            while True:
                data = await self._reader.read(1 << 16)
                if not data:
                    break
                for frame in decoder.feed(data):
                    self._route(frame)
            self._shutdown(ClientError("unavailable", f"{self.address} closed", definite=False))
        except (ConnectionError, OSError, CodecError) as e:
            self._shutdown(ClientError("unavailable", f"{self.address}: {e}", definite=False))

    def _route(self, frame: Frame | FrameError) -> None:
        if isinstance(frame, FrameError):
            return
        if isinstance(frame.message, m.Delivery):
            self.deliveries(frame.message.subscription_id).put_nowait(frame.message)
            return
        if frame.request_id == 0 and isinstance(frame.message, m.Error):
            # The server refuses the connection itself (a plaintext client at a TLS node, say)
            # before it closes: that reason, not "closed", is what every caller should see.
            error = frame.message
            self._shutdown(ClientError(error.code, error.message, definite=error.definite))
            return
        future = self._waiting.get(frame.request_id)
        if future is not None and not future.done():
            future.set_result(frame.message)

    def _shutdown(self, error: ClientError) -> None:
        if self._closed is not None:
            return
        self._closed = error
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(error)
        for queue in self._deliveries.values():
            queue.put_nowait(None)
