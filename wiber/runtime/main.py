"""Run one node until SIGTERM or SIGINT: the node, its client listener, clean shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys

from wiber.runtime.config import NodeConfig
from wiber.runtime.logs import JsonFormatter
from wiber.runtime.node import Node
from wiber.runtime.server import serve

log = logging.getLogger("wiber.main")


async def run_node(
    config: NodeConfig,
    started: asyncio.Event | None = None,
    formatter: JsonFormatter | None = None,
) -> None:
    # The group-commit fsync runs in a worker thread; with the default 5 ms switch interval
    # the event loop waits up to 5 ms for the GIL each time that thread wakes (a convoy
    # that showed up as 5 ms stalls on socket sends in profiles).
    sys.setswitchinterval(0.0005)
    node = Node(config)
    if formatter is not None:
        formatter.node = node
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
