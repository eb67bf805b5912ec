"""Delays with `tc netem`, for nodes with a kernel of their own (VMs; see `Inventory.tools`).

Only traffic to the other nodes is delayed, so the harness's SSH sessions and the clients keep
their speed: a `prio` root qdisc with one extra band, netem under that band, and a u32 filter
per peer address steering packets for the peers into it. netem acts on egress, so a target
delays what it sends; replies from a peer are held by the peer only if the peer is a target
too, which is Jepsen's behaviour for `tc`-based delay as well.

A node has one root qdisc; heal deletes ours (recognised by its handle and netem child), which
puts the kernel's default back, and leaves any other root qdisc alone.
"""

from __future__ import annotations

import asyncio
import shlex
from collections.abc import Sequence

from harness.cluster.inventory import NodeSpec
from harness.control import Remote

ROOT_HANDLE = "1:"
NETEM_HANDLE = "40:"
BAND = "1:4"


# Shell helpers: the first IPv4 address of a name, and the interface a peer is routed through.
_PRELUDE = """addr() { getent ahostsv4 "$1" | awk 'NR==1{print $1}'; }
device() {
  ip -o route get "$(addr "$1")" |
    awk '{for (i = 1; i < NF; i++) if ($i == "dev") { print $(i + 1); exit }}'
}"""


def start_script(peers: Sequence[str], delay_ms: float, jitter_ms: float) -> str:
    """Shell for one node: delay everything it sends to `peers` by delay +- jitter."""
    if not peers:
        raise ValueError("netem delay needs at least one peer")
    netem = f"netem delay {delay_ms:.3f}ms"
    if jitter_ms > 0:
        netem += f" {jitter_ms:.3f}ms distribution normal"
    lines = ["set -e", _PRELUDE, f"dev=$(device {shlex.quote(peers[0])})", '[ -n "$dev" ]']
    lines += [
        _CLEAR,
        # priomap sends all ordinary traffic to bands 1-3 as pfifo_fast would; band 4 is ours.
        f'tc qdisc add dev "$dev" root handle {ROOT_HANDLE} prio bands 4 '
        "priomap 1 2 2 2 1 2 0 0 1 1 1 1 1 1 1 1",
        f'tc qdisc add dev "$dev" parent {BAND} handle {NETEM_HANDLE} {netem}',
    ]
    for peer in peers:
        lines.append(
            f'tc filter add dev "$dev" parent {ROOT_HANDLE} protocol ip prio 1 '
            f'u32 match ip dst "$(addr {shlex.quote(peer)})/32" flowid {BAND}'
        )
    return "\n".join(lines)


# With $dev set: remove our qdiscs from $dev, and nothing else.
_CLEAR = (
    f"if tc qdisc show dev \"$dev\" | grep -q '^qdisc netem {NETEM_HANDLE} parent {BAND}'; "
    'then tc qdisc del dev "$dev" root; fi'
)


def heal_script(peers: Sequence[str]) -> str:
    if not peers:
        return "true"
    lines = [_PRELUDE, f"dev=$(device {shlex.quote(peers[0])})", 'if [ -n "$dev" ]; then', _CLEAR]
    return "\n".join([*lines, "fi"])


async def start(
    remote: Remote, node: NodeSpec, peers: Sequence[str], delay_ms: float, jitter_ms: float
) -> None:
    await remote.run(node, start_script(peers, delay_ms, jitter_ms), timeout=30)


async def heal(remote: Remote, nodes: Sequence[NodeSpec]) -> None:
    async def one(node: NodeSpec) -> None:
        peers = [o.host for o in nodes if o.name != node.name]
        await remote.run(node, heal_script(peers), timeout=30)

    await asyncio.gather(*(one(n) for n in nodes))
