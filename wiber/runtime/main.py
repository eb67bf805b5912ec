"""Run one node until SIGTERM or SIGINT: the node, its client listener, clean shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from wiber.runtime.config import NodeConfig
from wiber.runtime.node import Node
from wiber.runtime.server import serve

log = logging.getLogger("wiber.main")


async def run_node(config: NodeConfig, started: asyncio.Event | None = None) -> None:
    node = Node(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    await node.start()
    server = asyncio.create_task(serve(node, started))
    stopper = asyncio.create_task(stop.wait())
    try:
        done, _ = await asyncio.wait({server, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if server in done:
            server.result()  # a listener that failed to bind raises here
    finally:
        for task in (server, stopper):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await node.close()
        log.info("%s stopped", config.id)
