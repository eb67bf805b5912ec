"""Hold packets from an iptables NFQUEUE for a while, then let them go: delay without netem.

A standalone script (only the standard library) copied to each node and run there as root:

    python3 nfq_holder.py --queue 7 --delay-ms 100 --jitter-ms 10

It speaks nfnetlink_queue over a raw netlink socket itself, so it needs neither
libnetfilter_queue nor the `netfilterqueue` package. Packets are asked for as metadata only
(NFQNL_COPY_META), held in a heap by release time, and accepted when due. On SIGTERM or SIGINT
every held packet is accepted before exit; iptables' `--queue-bypass` lets traffic through
unheld once the queue is gone.
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import random
import select
import signal
import socket
import struct
import time
from types import FrameType

NETLINK_NETFILTER = 12
SOL_NETLINK = 270
NETLINK_NO_ENOBUFS = 5
NFNL_SUBSYS_QUEUE = 3
MSG_PACKET, MSG_VERDICT, MSG_CONFIG = 0, 1, 2
NLM_F_REQUEST, NLM_F_ACK = 1, 4
NLMSG_ERROR = 2
CFG_CMD, CFG_PARAMS = 1, 2
CMD_BIND, CMD_UNBIND = 1, 2
COPY_META = 1
PACKET_HDR, VERDICT_HDR = 1, 2
NF_ACCEPT = 1

_seq = itertools.count(1)


def _attr(kind: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * (-length % 4)


def _message(kind: int, queue: int, attrs: list[bytes], flags: int = NLM_F_REQUEST) -> bytes:
    body = struct.pack("=BB", socket.AF_UNSPEC, 0) + struct.pack("!H", queue) + b"".join(attrs)
    header = struct.pack(
        "=IHHII", 16 + len(body), (NFNL_SUBSYS_QUEUE << 8) | kind, flags, next(_seq), 0
    )
    return header + body


def _attrs(data: bytes) -> dict[int, bytes]:
    found, pos = {}, 0
    while pos + 4 <= len(data):
        length, kind = struct.unpack_from("=HH", data, pos)
        if length < 4:
            break
        found[kind & 0x3FFF] = data[pos + 4 : pos + length]
        pos += (length + 3) & ~3
    return found


def _messages(data: bytes) -> list[tuple[int, bytes]]:
    out, pos = [], 0
    while pos + 16 <= len(data):
        length, kind, _flags, _seq_no, _pid = struct.unpack_from("=IHHII", data, pos)
        if length < 16:
            break
        out.append((kind, data[pos + 16 : pos + length]))
        pos += (length + 3) & ~3
    return out


def _configure(sock: socket.socket, queue: int, command: int) -> None:
    cmd = _attr(CFG_CMD, struct.pack("=BB", command, 0) + struct.pack("!H", socket.AF_INET))
    attrs = [cmd]
    if command == CMD_BIND:
        attrs.append(_attr(CFG_PARAMS, struct.pack("!IB", 0, COPY_META)))
    sock.send(_message(MSG_CONFIG, queue, attrs, NLM_F_REQUEST | NLM_F_ACK))
    for kind, payload in _messages(sock.recv(65536)):
        if kind == NLMSG_ERROR:
            (error,) = struct.unpack_from("=i", payload)
            if error != 0 and command == CMD_BIND:
                raise OSError(-error, f"binding NFQUEUE {queue}: {error}")


def _accept(sock: socket.socket, queue: int, packet_id: int) -> None:
    verdict = _attr(VERDICT_HDR, struct.pack("!II", NF_ACCEPT, packet_id))
    sock.send(_message(MSG_VERDICT, queue, [verdict]))


def hold(queue: int, delay: float, jitter: float, seed: int | None) -> None:
    rng = random.Random(seed)
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    sock.setsockopt(SOL_NETLINK, NETLINK_NO_ENOBUFS, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.bind((0, 0))
    _configure(sock, queue, CMD_BIND)
    running = [True]

    def stop(_signum: int, _frame: FrameType | None) -> None:
        running[0] = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    pending: list[tuple[float, int]] = []
    print(f"holding NFQUEUE {queue}: {delay * 1000:.1f} ms +- {jitter * 1000:.1f} ms", flush=True)
    while running[0]:
        now = time.monotonic()
        while pending and pending[0][0] <= now:
            _accept(sock, queue, heapq.heappop(pending)[1])
        timeout = min(0.05, max(0.0, pending[0][0] - now)) if pending else 0.05
        try:
            ready = select.select([sock], [], [], timeout)[0]
        except InterruptedError:
            continue
        if ready:
            for kind, payload in _messages(sock.recv(1 << 16)):
                if kind == (NFNL_SUBSYS_QUEUE << 8) | MSG_PACKET:
                    header = _attrs(payload[4:]).get(PACKET_HDR)
                    if header is not None:
                        (packet_id,) = struct.unpack_from("!I", header)
                        hold_for = max(0.0, delay + rng.uniform(-jitter, jitter))
                        heapq.heappush(pending, (time.monotonic() + hold_for, packet_id))
    for _, packet_id in sorted(pending):
        _accept(sock, queue, packet_id)
    _configure(sock, queue, CMD_UNBIND)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queue", type=int, default=7)
    parser.add_argument("--delay-ms", type=float, default=50.0)
    parser.add_argument("--jitter-ms", type=float, default=0.0)
    parser.add_argument("--seed", type=int)
    args = parser.parse_args()
    hold(args.queue, args.delay_ms / 1000, args.jitter_ms / 1000, args.seed)


if __name__ == "__main__":
    main()
