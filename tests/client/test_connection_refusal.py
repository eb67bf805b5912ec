"""A server that refuses a whole connection says why in an error pushed with request id 0;
the client must surface that reason, not just "closed"."""

from __future__ import annotations

import asyncio

import pytest

from wiber.client.connection import ClientError, Connection
from wiber.codec import messages as m
from wiber.codec.framed import Frame, encode


def test_a_connection_level_refusal_reaches_the_caller_with_its_code() -> None:
    async def scenario() -> ClientError:
        async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read(64)  # magic and hello
            refusal = m.Error("tls-required", "this node accepts TLS connections only", True)
            writer.write(encode(Frame(0, refusal)))
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(refuse, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            with pytest.raises(ClientError) as refused:
                await Connection.open(f"127.0.0.1:{port}", timeout=5)
            return refused.value
        finally:
            server.close()
            await server.wait_closed()

    error = asyncio.run(scenario())
    assert error.code == "tls-required"
    assert error.definite
    assert "TLS connections only" in error.message
