"""`delay`: targets hold every packet between them and the other nodes for a while.

On nodes with a kernel of their own (`Inventory.tools.netem`: VMs) this is `tc netem` on
what the target sends to its peers (`harness.nemesis.netem`). Namespaces and containers share
the control host's kernel, which may lack netem (this project's CI machine does), so there
iptables sends the packets a target receives from its peers to an NFQUEUE; `nfq_holder.py`,
copied to the node and run there as a daemon, accepts each one after the delay (plus jitter).
`--queue-bypass` means traffic flows undelayed, never dropped, if the holder is gone. Heal
flushes the rules, then stops the holder, which lets every packet it still holds go.
"""

from __future__ import annotations

import asyncio
import shlex
from pathlib import Path
from typing import Any

from harness import net
from harness.cluster.inventory import NodeSpec
from harness.nemesis import netem
from harness.nemesis.base import NemesisContext, pick_targets

HOLDER = Path(__file__).with_name("nfq_holder.py")
QUEUE = 7
DAEMON = "nfq-delay"


class Delay:
    name = "delay"

    async def start(self, ctx: NemesisContext, value: dict[str, Any]) -> dict[str, Any]:
        net.require_distinct_hosts(ctx.inventory)
        targets = await pick_targets(ctx, value.get("targets"), default="all")
        delay_ms = float(value.get("delay_ms", 50.0))
        jitter_ms = float(value.get("jitter_ms", 10.0))
        await self.heal(ctx)
        if ctx.inventory.tools.netem:
            await asyncio.gather(
                *(
                    netem.start(
                        ctx.remote,
                        ctx.inventory.node(n),
                        [o.host for o in ctx.inventory.nodes if o.name != n],
                        delay_ms,
                        jitter_ms,
                    )
                    for n in targets
                )
            )
            return self._done(targets, delay_ms, jitter_ms, "netem")
        await asyncio.gather(
            *(
                self._start_one(
                    ctx, ctx.inventory.node(n), delay_ms, jitter_ms, ctx.rng.getrandbits(32)
                )
                for n in targets
            )
        )
        return self._done(targets, delay_ms, jitter_ms, "nfqueue")

    def _done(
        self, targets: list[str], delay_ms: float, jitter_ms: float, tool: str
    ) -> dict[str, Any]:
        return {
            "nemesis": self.name,
            "targets": targets,
            "delay_ms": delay_ms,
            "jitter_ms": jitter_ms,
            "tool": tool,
        }

    async def _start_one(
        self, ctx: NemesisContext, node: NodeSpec, delay_ms: float, jitter_ms: float, seed: int
    ) -> None:
        if ctx.inventory.extra.get("shared_fs"):
            script = str(HOLDER)
        else:
            script = f"{node.root_dir}/bin/nfq_holder.py"
            await ctx.remote.run(node, f"mkdir -p {shlex.quote(node.root_dir)}/bin")
            await ctx.remote.upload(node, HOLDER, script)
        log = f"{node.root_dir}/logs/{DAEMON}.log"
        await ctx.remote.run(
            node, f"mkdir -p $(dirname {shlex.quote(log)}) && : > {shlex.quote(log)}"
        )
        await ctx.remote.start_daemon(
            node,
            DAEMON,
            f"/usr/bin/python3 {shlex.quote(script)} --queue {QUEUE} "
            f"--delay-ms {delay_ms} --jitter-ms {jitter_ms} --seed {seed}",
            logfile=log,
        )
        # Rules go in only once the holder has bound the queue (it says so in its log), so
        # that the fault is in force when start returns, not some time later.
        await ctx.remote.run(
            node,
            f"for i in $(seq 200); do grep -q '^holding' {shlex.quote(log)} && exit 0; "
            f"sleep 0.05; done; cat {shlex.quote(log)}; exit 1",
            timeout=30,
        )
        others = [o.host for o in ctx.inventory.nodes if o.name != node.name]
        rules = [f"-s {host} -j NFQUEUE --queue-num {QUEUE} --queue-bypass" for host in others]
        await net.add_rules(ctx.remote, node, net.DELAY_CHAIN, rules)

    async def heal(self, ctx: NemesisContext) -> dict[str, Any]:
        if ctx.inventory.tools.netem:
            await netem.heal(ctx.remote, ctx.inventory.nodes)
        await net.heal(ctx.remote, ctx.inventory, [net.DELAY_CHAIN])
        stopped = await asyncio.gather(
            *(ctx.remote.signal_daemon(n, DAEMON, "TERM") for n in ctx.inventory.nodes)
        )
        return {
            "nemesis": self.name,
            "targets": [n.name for n, s in zip(ctx.inventory.nodes, stopped, strict=True) if s],
        }
